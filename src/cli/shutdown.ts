import type { Logger } from 'pino'

/**
 * On SIGTERM or SIGINT: log what stopping means, run `stop`, and let the process end by itself once
 * nothing is left open (no process.exit, so logs and in-flight answers are flushed).
 */
export function stopOnSignal(logger: Logger, what: string, stop: () => Promise<void>): void {
  const shutdown = (signal: string) => {
    logger.info({ signal }, what)
    stop().then(() => logger.info('stopped'), (error: Error) => logger.error({ err: error }, 'stop failed'))
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}
