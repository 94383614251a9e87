import { UsageError } from './usage.js'
export async function runWebhook(_argv: string[]): Promise<undefined> {
  throw new UsageError('webhook is not available yet')
}
