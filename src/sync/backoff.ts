/**
 * Per-ServiceAccount exponential backoff: a key that keeps failing waits longer and longer, alone;
 * the other keys go on at full speed.
 */
export interface BackoffOptions {
  baseMs?: number
  maxMs?: number
  now?: () => number
  /** 0–1 of random spread added to each delay, so failing keys do not retry in lockstep. */
  jitter?: number
}

export class KeyBackoff {
  private readonly failures = new Map<string, { count: number; notBefore: number }>()
  private readonly baseMs: number
  private readonly maxMs: number
  private readonly now: () => number
  private readonly jitter: number

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 1_000
    this.maxMs = options.maxMs ?? 300_000
    this.now = options.now ?? Date.now
    this.jitter = options.jitter ?? 0.2
  }

  /** Records a failure; returns how long the key now waits, in milliseconds. */
  fail(key: string): number {
    const count = (this.failures.get(key)?.count ?? 0) + 1
    const delay = Math.min(this.baseMs * 2 ** (count - 1), this.maxMs) * (1 + Math.random() * this.jitter)
    this.failures.set(key, { count, notBefore: this.now() + delay })
    return Math.round(delay)
  }

  succeed(key: string): void {
    this.failures.delete(key)
  }

  /** Milliseconds until the key may be tried again; 0 when it may be now. */
  waitMs(key: string): number {
    const entry = this.failures.get(key)
    return entry ? Math.max(0, entry.notBefore - this.now()) : 0
  }

  failuresOf(key: string): number {
    return this.failures.get(key)?.count ?? 0
  }
}
