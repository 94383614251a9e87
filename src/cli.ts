#!/usr/bin/env node
import { runCheck } from './cli/check.js'
import { USAGE, UsageError } from './cli/usage.js'
import { UnreadableInputError } from './io/files.js'

type Command = (argv: string[], out: NodeJS.WritableStream) => Promise<number | undefined>

const commands: Record<string, Command> = {
  check: runCheck,
  review: async (argv, out) => (await import('./cli/review.js')).runReview(argv, out),
  webhook: async (argv) => (await import('./cli/webhook.js')).runWebhook(argv),
  sync: async (argv) => (await import('./cli/sync.js')).runSyncCommand(argv),
}

/**
 * The one `bin`. The exit status is set, never forced with process.exit, so that large output reaches
 * a pipe whole; long-running commands keep the process alive through their servers.
 */
async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`)
    process.exitCode = name === undefined ? 2 : 0
    return
  }
  const command = commands[name]
  if (!command) throw new UsageError(`unknown command "${name}"`)
  const status = await command(rest, process.stdout)
  if (status !== undefined) process.exitCode = status
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.exitCode = 2
  if (error instanceof UsageError) {
    process.stderr.write(`session-guard: ${error.message}\n\n${USAGE}\n`)
  } else if (error instanceof UnreadableInputError || isArgsError(error)) {
    process.stderr.write(`session-guard: ${(error as Error).message}\n`)
  } else {
    process.stderr.write(`session-guard: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  }
})

/** node:util parseArgs errors (unknown option, missing value) are usage mistakes. */
function isArgsError(error: unknown): boolean {
  const code = (error as { code?: string }).code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
}
