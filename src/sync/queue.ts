/**
 * A de-duplicating work queue of ServiceAccount keys: a key waiting (or waiting out a delay) is queued
 * once however often it changes, and at most `concurrency` keys are worked on at a time.
 */
export class WorkQueue {
  private readonly ready: string[] = []
  private readonly queued = new Set<string>()
  private readonly delayed = new Map<string, NodeJS.Timeout>()
  private readonly running = new Set<Promise<void>>()
  private stopped = false

  constructor(
    private readonly concurrency: number,
    private readonly work: (key: string) => Promise<void>,
    private readonly onDepth: (depth: number) => void = () => {},
  ) {}

  get depth(): number {
    return this.queued.size + this.delayed.size
  }

  add(key: string, delayMs = 0): void {
    if (this.stopped || this.queued.has(key)) return
    if (delayMs > 0) {
      if (this.delayed.has(key)) return
      const timer = setTimeout(() => {
        this.delayed.delete(key)
        this.add(key)
      }, delayMs)
      timer.unref()
      this.delayed.set(key, timer)
    } else {
      const timer = this.delayed.get(key)
      if (timer) clearTimeout(timer)
      this.delayed.delete(key)
      this.queued.add(key)
      this.ready.push(key)
    }
    this.onDepth(this.depth)
    this.pump()
  }

  /** Stops taking work and waits for what is running. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const timer of this.delayed.values()) clearTimeout(timer)
    this.delayed.clear()
    this.ready.length = 0
    this.queued.clear()
    await Promise.all(this.running)
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string
      this.queued.delete(key)
      this.onDepth(this.depth)
      const run = this.work(key)
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(run)
          this.pump()
        })
      this.running.add(run)
    }
  }
}
