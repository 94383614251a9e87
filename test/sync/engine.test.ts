import t from 'tap'
import type { Test } from 'tap'
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import type { SyncEventReason } from '../../src/kube/service-account-status.js'
import { createSyncMetrics } from '../../src/sync/metrics.js'
import { createSyncEngine, syncOnce } from '../../src/sync/once.js'
import type { StatusSink, SyncTarget } from '../../src/sync/status.js'
import { startEksEmulator } from '../support/eks-emulator.js'
import {
  guardedAccount,
  judgeFromAnnotations,
  ownTags,
  policyFor,
  prefix,
  readerRole,
  stateOf,
  targetRole,
  testConfig,
  writerRole,
} from './harness.js'

const logger = pino({ level: 'silent' })

/** Records what the sync writes back, as the Kubernetes adapter would receive it. */
class RecordingSink implements StatusSink {
  annotations = new Map<string, string | null>()
  events: string[] = []
  async setAssociationId(target: SyncTarget, associationId: string | null): Promise<void> {
    this.annotations.set(`${target.namespace}/${target.name}`, associationId)
  }
  async event(target: SyncTarget, type: 'Normal' | 'Warning', reason: SyncEventReason): Promise<void> {
    this.events.push(`${target.namespace}/${target.name} ${type} ${reason}`)
  }
}

async function setup(t: Test, sync: Parameters<typeof testConfig>[0] = {}) {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  const eksClient = createEksClient(emulator.clientConfig())
  t.teardown(() => eksClient.destroy())
  const config = testConfig(sync)
  const metrics = createSyncMetrics()
  const sink = new RecordingSink()
  const engine = createSyncEngine({ config, judge: judgeFromAnnotations, eksClient, logger, metrics, status: sink })
  return { emulator, eksClient, config, metrics, sink, engine }
}

t.test('creates the association of every guarded ServiceAccount, then has nothing to write', async (t) => {
  const { emulator, engine, sink, metrics } = await setup(t)
  const accounts = [
    guardedAccount('shop', 'cart'),
    guardedAccount('shop', 'billing', { target: targetRole }),
    guardedAccount('api', 'gateway', { bucket: null }),
    { namespace: 'api', name: 'default', annotations: {} },
  ]
  const first = await engine.fullPass(accounts)
  t.same(first.results, { created: 3, updated: 0, adopted: 0, deleted: 0, unchanged: 0, conflict: 0, rejected: 0, failed: 0 })
  t.same(stateOf(emulator.associations()), [
    'api/gateway role=shared-reader target=- policy=- noTags=false owner=test-install',
    'shop/billing role=shared-reader target=cross-account policy=billing noTags=true owner=test-install',
    'shop/cart role=shared-reader target=- policy=cart noTags=true owner=test-install',
  ])
  t.same(emulator.associations()[0]?.tags, ownTags(), 'ownership tags on every association')
  const ids = Object.fromEntries(emulator.associations().map((a) => [`${a.namespace}/${a.serviceAccount}`, a.associationId]))
  t.same(Object.fromEntries(sink.annotations), ids, 'association-id annotation written for each')
  t.same(sink.events.sort(), ['api/gateway Normal Synced', 'shop/billing Normal Synced', 'shop/cart Normal Synced'])

  emulator.resetCalls()
  for (const account of accounts) {
    const id = ids[`${account.namespace}/${account.name}`]
    if (id) account.annotations[`${prefix}/association-id`] = id
  }
  const second = await engine.fullPass(accounts)
  t.equal(emulator.writeCalls(), 0, 'an immediate second pass writes nothing')
  t.same(emulator.calls().DescribePodIdentityAssociation, 0, 'and describes nothing: the answers to its writes are cached')
  t.equal(emulator.calls().ListPodIdentityAssociations, 1)
  t.equal(second.results.unchanged, 3)
  t.match(await metrics.registry.getSingleMetricAsString('session_guard_sync_reconciles_total'), /result="created"} 3\n[^]*result="unchanged"} 3/)
  t.match(await metrics.registry.getSingleMetricAsString('session_guard_sync_eks_calls_total'), /operation="create",outcome="success"} 3/)
})

t.test('a fresh engine (a restarted sidecar) reads everything and still writes nothing', async (t) => {
  const { emulator, engine, eksClient, config } = await setup(t)
  const accounts = [guardedAccount('shop', 'cart'), guardedAccount('shop', 'billing')]
  await engine.fullPass(accounts)
  emulator.resetCalls()
  const report = await syncOnce({ config, judge: judgeFromAnnotations, eksClient, logger, serviceAccounts: accounts })
  t.equal(emulator.writeCalls(), 0)
  t.equal(emulator.calls().DescribePodIdentityAssociation, 2)
  t.equal(report.results.unchanged, 2)
})

t.test('updates role, target role, session policy and session tags in place', async (t) => {
  const { emulator, engine, sink } = await setup(t)
  await engine.fullPass([guardedAccount('shop', 'cart'), guardedAccount('shop', 'billing', { target: targetRole })])
  const before = emulator.associations().map((a) => a.associationId)
  sink.events = []
  const report = await engine.fullPass([
    guardedAccount('shop', 'cart', { role: writerRole, target: targetRole, bucket: 'elsewhere' }),
    guardedAccount('shop', 'billing', { bucket: null }),
  ])
  t.equal(report.results.updated, 2)
  t.same(stateOf(emulator.associations()), [
    'shop/billing role=shared-reader target=- policy=- noTags=false owner=test-install',
    'shop/cart role=shared-writer target=cross-account policy=elsewhere noTags=true owner=test-install',
  ])
  t.same(emulator.associations().map((a) => a.associationId), before, 'same associations, updated in place')
  t.same(sink.events.sort(), [
    'shop/billing Normal RestartRequired',
    'shop/billing Normal Synced',
    'shop/cart Normal RestartRequired',
    'shop/cart Normal Synced',
  ])
})

t.test('restarts the workloads instead of asking to, with restartWorkloads', async (t) => {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  const eksClient = createEksClient(emulator.clientConfig())
  const sink = new RecordingSink()
  const restarted: string[] = []
  const engine = createSyncEngine({
    config: testConfig({ restartWorkloads: true }),
    judge: judgeFromAnnotations,
    eksClient,
    logger,
    status: sink,
    restartWorkloads: async (namespace, serviceAccount) => {
      restarted.push(`${namespace}/${serviceAccount}`)
      return ['Deployment/cart']
    },
  })
  await engine.fullPass([guardedAccount('shop', 'cart')])
  t.same(restarted, [], 'a create restarts nothing')
  await engine.fullPass([guardedAccount('shop', 'cart', { role: writerRole })])
  t.same(restarted, ['shop/cart'])
  t.same(sink.events, ['shop/cart Normal Synced', 'shop/cart Normal Synced', 'shop/cart Normal WorkloadsRestarted'])
})

t.test('deletes owned associations whose ServiceAccount is gone or no longer guarded', async (t) => {
  const { emulator, engine, sink } = await setup(t)
  await engine.fullPass([guardedAccount('shop', 'cart'), guardedAccount('shop', 'billing'), guardedAccount('shop', 'stays')])
  const cartId = emulator.associations().find((a) => a.serviceAccount === 'cart')?.associationId as string
  sink.events = []
  sink.annotations.clear()
  const unguarded = { namespace: 'shop', name: 'cart', annotations: { [`${prefix}/association-id`]: cartId } }
  const report = await engine.fullPass([unguarded, guardedAccount('shop', 'stays')])
  t.equal(report.results.deleted, 2)
  t.same(stateOf(emulator.associations()), ['shop/stays role=shared-reader target=- policy=stays noTags=true owner=test-install'])
  const staysId = emulator.associations()[0]?.associationId
  t.same(Object.fromEntries(sink.annotations), { 'shop/cart': null, 'shop/stays': staysId }, 'the stale annotation is removed')
  t.same(sink.events, ['shop/cart Normal Synced'], 'an Event where the ServiceAccount still exists')
})

t.test('never touches add-on, foreign or other-installation associations', async (t) => {
  const { emulator, engine, sink } = await setup(t)
  const ownerArn = 'arn:aws:eks:us-east-1:111122223333:addon/test-cluster/aws-ebs-csi-driver/x'
  emulator.seedAssociation({ namespace: 'kube-system', serviceAccount: 'ebs-csi', roleArn: writerRole, ownerArn })
  emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'manual', roleArn: writerRole, tags: { team: 'shop' } })
  emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'theirs', roleArn: writerRole, tags: ownTags('other-install') })
  emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'orphan-elsewhere', roleArn: writerRole, tags: ownTags('other-install') })
  const before = stateOf(emulator.associations())
  const accounts = [
    guardedAccount('kube-system', 'ebs-csi'),
    guardedAccount('shop', 'manual'),
    guardedAccount('shop', 'theirs'),
  ]
  const report = await engine.fullPass(accounts)
  t.equal(report.results.conflict, 3)
  t.equal(emulator.writeCalls(), 0, 'not one write')
  t.same(stateOf(emulator.associations()), before)
  t.same(sink.events.sort(), ['kube-system/ebs-csi Warning Conflict', 'shop/manual Warning Conflict', 'shop/theirs Warning Conflict'])
  await engine.fullPass(accounts)
  t.equal(sink.events.length, 3, 'a persisting conflict is reported once, not on every pass')
})

t.test('leaves the association of a ServiceAccount that fails judgment untouched', async (t) => {
  const { emulator, engine, sink } = await setup(t)
  await engine.fullPass([guardedAccount('shop', 'cart')])
  const before = stateOf(emulator.associations())
  emulator.resetCalls()
  const broken = guardedAccount('shop', 'cart', { role: 'not-an-arn', bucket: 'other' })
  const report = await engine.fullPass([broken])
  t.equal(report.results.rejected, 1)
  t.equal(emulator.writeCalls(), 0)
  t.same(stateOf(emulator.associations()), before)
  t.same(sink.events, ['shop/cart Normal Synced', 'shop/cart Warning Rejected'])
})

t.test('resolves an association created meanwhile (ResourceInUseException) by reading it', async (t) => {
  const { emulator, engine, sink } = await setup(t)
  emulator.setFaults({ latencyMs: 300, operations: ['CreatePodIdentityAssociation'] })
  const pass = engine.fullPass([guardedAccount('shop', 'cart')])
  while (emulator.calls().CreatePodIdentityAssociation === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const seeded = emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'cart', roleArn: writerRole, tags: { team: 'shop' } })
  const report = await pass
  t.equal(report.results.conflict, 1, 'the association that appeared is not ours: a conflict')
  t.equal(emulator.calls().CreatePodIdentityAssociation, 1, 'no second create')
  t.same(emulator.associations().map((a) => a.associationId), [seeded.associationId])
  t.same(sink.events, ['shop/cart Warning Conflict'])
})

t.test('a create whose answers are all lost leaves one association, found owned by the next run', async (t) => {
  const { emulator, engine, eksClient, config } = await setup(t)
  emulator.setFaults({ lostResponseRate: 1, operations: ['CreatePodIdentityAssociation'] })
  const accounts = [guardedAccount('shop', 'cart')]
  const first = await engine.fullPass(accounts)
  t.equal(first.results.failed, 1, 'every answer lost: the pass reports a failure')
  t.ok(emulator.calls().CreatePodIdentityAssociation > 1, 'the SDK retried the create')
  t.equal(emulator.associations().length, 1, 'each retry replayed the same token: one association')
  emulator.setFaults({})
  const second = await syncOnce({ config, judge: judgeFromAnnotations, eksClient, logger, serviceAccounts: accounts })
  t.equal(second.results.unchanged, 1)
  t.equal(emulator.associations().length, 1)
})

t.test('adopts an unmanaged association only with adoptExisting', async (t) => {
  const { emulator, engine } = await setup(t, { adoptExisting: true })
  emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'cart', roleArn: writerRole })
  const report = await engine.fullPass([guardedAccount('shop', 'cart')])
  t.equal(report.results.adopted, 1)
  t.same(stateOf(emulator.associations()), ['shop/cart role=shared-reader target=- policy=cart noTags=true owner=test-install'])
})

t.test('only touches the configured namespaces', async (t) => {
  const { emulator, engine } = await setup(t, { namespaces: ['shop'] })
  emulator.seedAssociation({ namespace: 'api', serviceAccount: 'old', roleArn: readerRole, tags: ownTags() })
  const report = await engine.fullPass([guardedAccount('shop', 'cart'), guardedAccount('api', 'gateway')])
  t.equal(report.serviceAccounts, 1)
  t.same(stateOf(emulator.associations()), [
    'api/old role=shared-reader target=- policy=- noTags=false owner=test-install',
    'shop/cart role=shared-reader target=- policy=cart noTags=true owner=test-install',
  ])
})

t.test('a failing ServiceAccount backs off alone while the others converge', async (t) => {
  const { emulator, engine, sink } = await setup(t)
  const accounts = [guardedAccount('shop', 'cart'), guardedAccount('shop', 'bad', { bucket: 'x' }), guardedAccount('shop', 'billing')]
  // A policy EKS refuses (session tags left on) fails that account only.
  accounts[1]!.annotations[`${prefix}/disable-session-tags`] = 'false'
  const report = await engine.fullPass(accounts)
  t.equal(report.results.created, 2)
  t.equal(report.results.failed, 1)
  t.match(report.failures, [{ namespace: 'shop', name: 'bad', error: /InvalidParameterException/ }])
  t.ok(engine.backoff.waitMs('shop/bad') > 0, 'the failing account waits')
  t.ok(sink.events.includes('shop/bad Warning SyncFailed'))
  const again = await engine.fullPass(accounts)
  t.equal(again.deferred, 1, 'and is skipped while it waits')
  t.equal(again.results.unchanged, 2)
  t.equal(emulator.associations().length, 2)
  t.equal(policyFor('x').length > 0, true)
})

t.test('a failed workload restart falls back to asking for one; the update stands', async (t) => {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  const eksClient = createEksClient(emulator.clientConfig())
  const sink = new RecordingSink()
  const engine = createSyncEngine({
    config: testConfig({ restartWorkloads: true }),
    judge: judgeFromAnnotations,
    eksClient,
    logger,
    status: sink,
    restartWorkloads: async () => {
      throw new Error('deployments.apps is forbidden')
    },
  })
  await engine.fullPass([guardedAccount('shop', 'cart')])
  const report = await engine.fullPass([guardedAccount('shop', 'cart', { role: writerRole })])
  t.equal(report.results.updated, 1)
  t.same(report.failures, [])
  t.same(sink.events, ['shop/cart Normal Synced', 'shop/cart Normal Synced', 'shop/cart Normal RestartRequired'])
})
