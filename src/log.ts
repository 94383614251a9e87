import { pino, type Logger } from 'pino'

/**
 * The one logger: JSON lines on stdout, structured fields first. Level from LOG_LEVEL (default info).
 * Policy bodies and credentials are never logged at info.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component: name } }) // no pino `name`: log calls use `name` for the ServiceAccount
}
