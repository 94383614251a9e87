import { UsageError } from './usage.js'
export async function runSyncCommand(_argv: string[]): Promise<undefined> {
  throw new UsageError('sync is not available yet')
}
