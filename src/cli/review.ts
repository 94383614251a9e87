import { UsageError } from './usage.js'
export async function runReview(_argv: string[], _out: NodeJS.WritableStream): Promise<number> {
  throw new UsageError('review is not available yet')
}
