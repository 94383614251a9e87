// The benchmark's own logic: statistics, targets, the convergence check and the paced load generator.
import { createServer } from 'node:https'
import selfsigned from 'selfsigned'
import t from 'tap'
import { pacedLoad } from '../../bench/paced-load.mjs'
import { median, percentile } from '../../bench/stats.mjs'
import { verify } from '../../bench/sync-verify.mjs'
import { verdicts } from '../../bench/targets.mjs'

t.test('percentiles are nearest-rank and the median interpolates an even count', async (t) => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
  t.equal(percentile(hundred, 99), 99, 'p99 of 1..100 is 99')
  t.equal(percentile(hundred, 100), 100, 'p100 is the maximum')
  t.equal(percentile([7], 99), 7, 'a single sample is every percentile')
  t.equal(median([3, 1, 2]), 2, 'odd count: the middle')
  t.equal(median([4, 1, 3, 2]), 2.5, 'even count: the mean of the middle two')
  t.ok(Number.isNaN(median([])), 'no samples: NaN')
})

t.test('targets compare each figure in its own direction and leave absent ones unmeasured', async (t) => {
  const rows = Object.fromEntries(verdicts({ ratio: 0.59, p99_ms_at_half_load: 5, errors: 0, rss_mb: 201 }).map((row) => [row.key, row]))
  t.equal(rows.ratio.met, false, 'a ratio below 0.6 misses')
  t.equal(rows.ratio.target, '>= 0.6')
  t.equal(rows.p99_ms_at_half_load.met, true, 'a p99 of exactly 5 ms meets')
  t.equal(rows.errors.met, true, 'zero errors meets')
  t.equal(rows.rss_mb.met, false, '201 MB misses')
  t.equal(rows.sync_converge_s.met, undefined, 'an absent figure is not measured')
  t.equal(rows.sync_converge_s.value, '-')
})

t.test('the convergence check names every difference between accounts and associations', async (t) => {
  const prefix = 'session-guard.dev'
  const ownershipTags = { [`${prefix}/installation`]: 'bench', [`${prefix}/cluster`]: 'bench' }
  const account = (name, policy) => ({
    namespace: 'team-a', name,
    annotations: { [`${prefix}/role-arn`]: 'arn:aws:iam::111122223333:role/r', [`${prefix}/normalized-policy`]: policy },
  })
  const association = (name, policy, extra = {}) => ({
    namespace: 'team-a', serviceAccount: name, roleArn: 'arn:aws:iam::111122223333:role/r', policy, disableSessionTags: true, tags: { ...ownershipTags }, ...extra,
  })
  const accounts = [account('a', 'P1'), account('b', 'P2'), account('c', 'P3')]
  t.same(verify(accounts, [association('a', 'P1'), association('b', 'P2'), association('c', 'P3')], { prefix, ownershipTags }), [], 'all correct: no problem')
  t.same(verify(accounts, [
    association('a', 'P1', { tags: { [`${prefix}/installation`]: 'other', [`${prefix}/cluster`]: 'bench' } }),
    association('b', 'stale'),
    association('d', 'P4'),
  ], { prefix, ownershipTags }), [
    `team-a/a: tag ${prefix}/installation is other, not bench`,
    'team-a/b: policy differs',
    'team-a/c: no association',
    'team-a/d: association without a ServiceAccount',
  ])
})

t.test('the paced load keeps its schedule, checks answers and counts queueing in the latency', async (t) => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec', curve: 'P-256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  })
  let delayMs = 0
  let status = 200
  const server = createServer({ cert: pems.cert, key: pems.private }, (req, res) => {
    req.resume()
    req.on('end', () => setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":true}'), delayMs))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  const load = (options) => pacedLoad({
    host: '127.0.0.1', port: server.address().port, path: '/validate', body: '{}', ca: pems.cert, connections: 4, ...options,
  })

  const steady = await load({ rate: 100, seconds: 1, expectBody: '{"ok":true}' })
  t.equal(steady.sent, 100, 'one request per 10 ms for one second')
  t.equal(steady.ok, 100, 'every expected answer counted')
  t.equal(steady.unanswered, 0)

  const wrong = await load({ rate: 50, seconds: 0.4, expectBody: '{"ok":false}' })
  t.equal(wrong.mismatches, wrong.sent, 'an unexpected body is a mismatch, not a success')
  t.equal(wrong.ok, 0)

  status = 503
  const failing = await load({ rate: 50, seconds: 0.4 })
  t.equal(failing.non2xx, failing.sent, 'a 503 is counted as non-2xx')
  status = 200

  // One connection answering in 30 ms cannot keep up with 100 req/s: an open-loop schedule keeps
  // sending, so the wait for the connection shows in the latency (no coordinated omission).
  delayMs = 30
  const overloaded = await load({ rate: 100, seconds: 0.5, connections: 1 })
  t.equal(overloaded.ok, overloaded.sent, 'all answered in the end')
  t.ok(overloaded.p99_ms > 500, `queueing is in the latency (p99 ${overloaded.p99_ms} ms)`)
})
