import t from 'tap'
import { KeyBackoff } from '../../src/sync/backoff.js'

t.test('doubles the wait of a failing key up to the cap, and forgets it on success', async (t) => {
  let now = 0
  const backoff = new KeyBackoff({ baseMs: 100, maxMs: 500, jitter: 0, now: () => now })
  t.same([backoff.fail('a'), backoff.fail('a'), backoff.fail('a'), backoff.fail('a')], [100, 200, 400, 500])
  t.equal(backoff.failuresOf('a'), 4)
  t.equal(backoff.waitMs('a'), 500)
  t.equal(backoff.waitMs('b'), 0, 'other keys do not wait')
  now = 300
  t.equal(backoff.waitMs('a'), 200)
  now = 600
  t.equal(backoff.waitMs('a'), 0, 'waited out')
  backoff.succeed('a')
  t.equal(backoff.failuresOf('a'), 0)
  t.equal(backoff.fail('a'), 100, 'starts over after a success')
})

t.test('spreads the waits with jitter', async (t) => {
  const backoff = new KeyBackoff({ baseMs: 1000, jitter: 0.5, now: () => 0 })
  const delay = backoff.fail('a')
  t.ok(delay >= 1000 && delay <= 1500, `${delay} within [1000, 1500]`)
})
