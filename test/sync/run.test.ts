import t from 'tap'
import { DeletePodIdentityAssociationCommand } from '@aws-sdk/client-eks'
import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import { syncOnce } from '../../src/sync/once.js'
import { runSync } from '../../src/sync/run.js'
import { startControlPlane } from '../support/control-plane.js'
import { startEksEmulator } from '../support/eks-emulator.js'
import { judgeFromAnnotations, policyFor, prefix, readerRole, stateOf, testConfig, writerRole } from './harness.js'
import { until } from '../support/until.js'

const plane = await startControlPlane()
t.teardown(() => plane.stop())
const emulator = await startEksEmulator()
t.teardown(() => emulator.close())
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(plane.kubeconfigPath)
const core = kubeConfig.makeApiClient(CoreV1Api)
for (const name of ['shop', 'session-guard']) await core.createNamespace({ body: { metadata: { name } } })


function guardAnnotations(role: string, bucket: string): Record<string, string> {
  return {
    [`${prefix}/role-arn`]: role,
    [`${prefix}/session-policy`]: policyFor(bucket),
    [`${prefix}/normalized-policy`]: policyFor(bucket),
    [`${prefix}/disable-session-tags`]: 'true',
  }
}

async function eventsOf(name: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace: 'shop', fieldSelector: `involvedObject.name=${name}` })
  return list.items.map((e) => `${e.type} ${e.reason}`).sort()
}

const eksClient = createEksClient(emulator.clientConfig())
t.teardown(() => eksClient.destroy())
const config = testConfig({ lease: { name: 'sync', namespace: 'session-guard', durationSeconds: 3, renewSeconds: 1 } })
const sidecar = await runSync({ config, judge: judgeFromAnnotations, kubeConfig, eksClient, logger: pino({ level: 'silent' }), identity: 'sync-a' })
let stopped = false
t.teardown(() => (stopped ? undefined : sidecar.stop()))
await sidecar.ready
await until(() => sidecar.isLeader(), 'leadership')

t.test('serves /healthz, /readyz and its own metrics', async (t) => {
  const base = `http://127.0.0.1:${sidecar.port}`
  t.equal((await fetch(`${base}/healthz`)).status, 200)
  t.equal((await fetch(`${base}/readyz`)).status, 200)
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /^session_guard_sync_leader 1$/m)
  t.match(metrics, /^session_guard_sync_queue_depth \d+$/m)
})

t.test('creates the association of a new guarded ServiceAccount and writes its id back', async (t) => {
  await core.createNamespacedServiceAccount({ namespace: 'shop', body: { metadata: { name: 'cart', annotations: guardAnnotations(readerRole, 'cart') } } })
  const [association] = await until(() => (emulator.associations().length > 0 ? emulator.associations() : undefined), 'the association')
  t.same(stateOf([association!]), ['shop/cart role=shared-reader target=- policy=cart noTags=true owner=test-install'])
  const sa = await until(async () => {
    const read = await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'cart' })
    return read.metadata?.annotations?.[`${prefix}/association-id`] ? read : undefined
  }, 'the association-id annotation')
  t.equal(sa.metadata?.annotations?.[`${prefix}/association-id`], association!.associationId)
  t.same(await until(async () => ((await eventsOf('cart')).length ? eventsOf('cart') : undefined), 'an Event'), ['Normal Synced'])
})

t.test('updates it when the annotations change, and says running pods need a restart', async (t) => {
  await core.patchNamespacedServiceAccount(
    { namespace: 'shop', name: 'cart', body: [{ op: 'replace', path: `/metadata/annotations/${prefix.replace('/', '~1')}~1role-arn`, value: writerRole }] },
  )
  await until(() => emulator.associations()[0]?.roleArn === writerRole, 'the update')
  t.same(stateOf(emulator.associations()), ['shop/cart role=shared-writer target=- policy=cart noTags=true owner=test-install'])
  t.same(await until(async () => ((await eventsOf('cart')).length >= 3 ? eventsOf('cart') : undefined), 'Events'), [
    'Normal RestartRequired',
    'Normal Synced',
    'Normal Synced',
  ])
})

t.test('reports a ServiceAccount that fails judgment and creates nothing for it', async (t) => {
  await core.createNamespacedServiceAccount({ namespace: 'shop', body: { metadata: { name: 'broken', annotations: { [`${prefix}/role-arn`]: 'nope' } } } })
  t.same(await until(async () => ((await eventsOf('broken')).length ? eventsOf('broken') : undefined), 'an Event'), ['Warning Rejected'])
  t.equal(emulator.associations().length, 1)
})

t.test('deletes the association when the guard annotations are removed, and the annotation with it', async (t) => {
  await core.createNamespacedServiceAccount({ namespace: 'shop', body: { metadata: { name: 'billing', annotations: guardAnnotations(readerRole, 'billing') } } })
  await until(() => emulator.associations().length === 2, 'the billing association')
  await until(async () => (await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'billing' })).metadata?.annotations?.[`${prefix}/association-id`], 'its annotation')
  await core.replaceNamespacedServiceAccount({ namespace: 'shop', name: 'billing', body: { metadata: { name: 'billing', annotations: {} } } })
  await until(() => emulator.associations().length === 1, 'the delete')
  const sa = await until(async () => {
    const read = await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'billing' })
    return read.metadata?.annotations?.[`${prefix}/association-id`] === undefined ? read : undefined
  }, 'the annotation removed')
  t.same(sa.metadata?.annotations ?? {}, {})
})

t.test('deletes the association of a deleted ServiceAccount', async (t) => {
  await core.deleteNamespacedServiceAccount({ namespace: 'shop', name: 'cart' })
  await until(() => emulator.associations().length === 0, 'the delete')
  t.same(emulator.associations(), [])
})

t.test('a full pass finds an association deleted behind its back and recreates it', async (t) => {
  await core.createNamespacedServiceAccount({ namespace: 'shop', body: { metadata: { name: 'stock', annotations: guardAnnotations(readerRole, 'stock') } } })
  await until(() => emulator.associations().length === 1, 'the stock association')
  // Someone deletes it out of band; no ServiceAccount changes, so only the periodic full pass can notice.
  await eksClient.send(new DeletePodIdentityAssociationCommand({ clusterName: 'test-cluster', associationId: emulator.associations()[0]!.associationId }))
  const report = await sidecar.fullPass()
  t.equal(report?.results.created, 1)
  t.same(stateOf(emulator.associations()), ['shop/stock role=shared-reader target=- policy=stock noTags=true owner=test-install'])
})

t.test('releases the Lease on stop', async (t) => {
  await sidecar.stop()
  stopped = true
  const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'sync', namespace: 'session-guard' })
  t.equal(lease.spec?.holderIdentity, '')
  await t.rejects(fetch(`http://127.0.0.1:${sidecar.port}/healthz`), 'the port is closed')
})

t.test('syncOnce reads the ServiceAccounts from the cluster when none are given', async (t) => {
  emulator.resetCalls()
  const report = await syncOnce({ config, judge: judgeFromAnnotations, eksClient, kubeConfig, logger: pino({ level: 'silent' }) })
  t.same(report.serviceAccounts, 3, 'billing, broken and stock')
  t.same({ unchanged: report.results.unchanged, rejected: report.results.rejected }, { unchanged: 1, rejected: 1 })
  t.equal(emulator.writeCalls(), 0)
})
