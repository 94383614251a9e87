import t from 'tap'
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import { KeyBackoff } from '../../src/sync/backoff.js'
import { createSyncEngine } from '../../src/sync/once.js'
import { startEksEmulator } from '../support/eks-emulator.js'
import { guardedAccount, judgeFromAnnotations, ownTags, readerRole, stateOf, testConfig, writerRole } from './harness.js'

const logger = pino({ level: 'silent' })

t.test('500 accounts converge through 20% server errors, throttling, latency and lost answers: no duplicate, no orphan', async (t) => {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  // Two attempts only: many failures get past the SDK, so the per-account backoff and later passes must finish the job.
  const eksClient = createEksClient({ ...emulator.clientConfig(), maxAttempts: 2 })
  t.teardown(() => eksClient.destroy())
  const accounts = Array.from({ length: 500 }, (_, i) => guardedAccount(`team-${i % 10}`, `app-${i}`))
  for (let i = 0; i < 20; i++) {
    emulator.seedAssociation({ namespace: `team-${i % 10}`, serviceAccount: `app-${i}`, roleArn: writerRole, tags: ownTags() })
    emulator.seedAssociation({ namespace: 'gone', serviceAccount: `orphan-${i}`, roleArn: readerRole, tags: ownTags() })
  }
  const ownerArn = 'arn:aws:eks:us-east-1:111122223333:addon/test-cluster/vpc-cni/x'
  emulator.seedAssociation({ namespace: 'kube-system', serviceAccount: 'aws-node', roleArn: readerRole, ownerArn })
  emulator.seedAssociation({ namespace: 'team-0', serviceAccount: 'manual', roleArn: readerRole, tags: { team: 'zero' } })
  const untouched = stateOf(emulator.associations().filter((a) => a.ownerArn || a.serviceAccount === 'manual'))

  emulator.setFaults({ serverErrorRate: 0.2, throttleRate: 0.05, lostResponseRate: 0.1, latencyMs: 3, seed: 42 })
  const engine = createSyncEngine({
    config: testConfig({ concurrency: 16 }),
    judge: judgeFromAnnotations,
    eksClient,
    logger,
    backoff: new KeyBackoff({ baseMs: 50, maxMs: 500 }),
  })
  let passes = 0
  let failures = 0
  for (;;) {
    passes++
    const report = await engine.fullPass(accounts).catch((error: unknown) => {
      failures++ // a list that exhausted its retries fails the whole pass; the next pass starts over
      t.comment(`pass ${passes} failed: ${String(error)}`)
      return undefined
    })
    if (report && report.failures.length === 0 && report.deferred === 0) break
    if (passes >= 40) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.comment(`converged after ${passes} passes (${failures} failed outright); calls: ${JSON.stringify(emulator.calls())}`)
  t.ok(passes > 1 && passes < 40, 'converges over several passes')

  emulator.setFaults({})
  const associations = emulator.associations()
  const expected = accounts.map((a) => `${a.namespace}/${a.name} role=shared-reader target=- policy=${a.name} noTags=true owner=test-install`)
  t.same(stateOf(associations.filter((a) => a.tags['session-guard.dev/installation'])), expected.sort(), 'every account correct, orphans gone')
  t.same(stateOf(associations.filter((a) => !a.tags['session-guard.dev/installation'])), untouched, 'add-on and unmanaged untouched')
  const seeded = associations.filter((a) => a.serviceAccount.startsWith('app-') && Number(a.serviceAccount.slice(4)) < 20)
  t.equal(seeded.length, 20, 'the 20 seeded owned associations were updated in place, not replaced')

  emulator.resetCalls()
  const last = await engine.fullPass(accounts)
  t.equal(emulator.writeCalls(), 0, 'a pass after convergence writes nothing')
  t.equal(last.results.unchanged, 500)
})
