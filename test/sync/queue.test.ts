import t from 'tap'
import { WorkQueue } from '../../src/sync/queue.js'

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('works each key once however often it is added while waiting', async (t) => {
  const worked: string[] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const queue = new WorkQueue(1, async (key) => {
    worked.push(key)
    await gate
  })
  queue.add('a')
  queue.add('b')
  queue.add('b')
  queue.add('c')
  queue.add('b')
  t.equal(queue.depth, 2, 'a runs; b and c wait, b once')
  release()
  await tick()
  t.same(worked, ['a', 'b', 'c'])
  await queue.stop()
})

t.test('runs at most `concurrency` keys at once', async (t) => {
  let running = 0
  let peak = 0
  const queue = new WorkQueue(3, async () => {
    running++
    peak = Math.max(peak, running)
    await tick(10)
    running--
  })
  for (let i = 0; i < 20; i++) queue.add(`k${i}`)
  await tick(150)
  t.equal(peak, 3)
  await queue.stop()
})

t.test('delays a key, and an immediate add overrides the delay', async (t) => {
  const worked: string[] = []
  const depths: number[] = []
  const queue = new WorkQueue(2, async (key) => void worked.push(key), (depth) => depths.push(depth))
  queue.add('late', 50)
  queue.add('soon', 10)
  queue.add('late', 10) // already delayed: kept at its first delay
  queue.add('now')
  await tick(30)
  t.same(worked, ['now', 'soon'])
  await tick(50)
  t.same(worked, ['now', 'soon', 'late'])
  queue.add('x', 1000)
  queue.add('x')
  await tick()
  t.same(worked.at(-1), 'x', 'an add without delay promotes a delayed key')
  t.equal(depths.at(-1), 0)
  await queue.stop()
})

t.test('a failing task does not stop the queue; stop waits for running work and drops the rest', async (t) => {
  const worked: string[] = []
  const queue = new WorkQueue(1, async (key) => {
    worked.push(key)
    await tick(20)
    if (key === 'bad') throw new Error('boom')
  })
  queue.add('bad')
  queue.add('good')
  await tick(60)
  t.same(worked, ['bad', 'good'])
  queue.add('running')
  queue.add('dropped')
  queue.add('delayed', 10)
  await tick(1)
  await queue.stop()
  t.same(worked, ['bad', 'good', 'running'])
  queue.add('after-stop')
  await tick(20)
  t.equal(worked.length, 3)
  t.equal(queue.depth, 0)
})
