import { pino, type Logger } from 'pino'

/**
 * The one logger: JSON lines on stdout, structured fields first. Level from LOG_LEVEL (default info).
 * Policy bodies and credentials are never logged at info. Writes are asynchronous (a review logs a line,
 * and a blocking write per line costs more than the review); pino flushes them when the process exits.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  // no pino `name`: log calls use `name` for the ServiceAccount
  return pino({ level, base: { component: name } }, pino.destination({ dest: 1, sync: false }))
}
