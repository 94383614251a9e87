import t from 'tap'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { ServiceAccountStatus } from '../../src/kube/service-account-status.js'
import { startControlPlane } from '../support/control-plane.js'

const plane = await startControlPlane()
t.teardown(() => plane.stop())
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(plane.kubeconfigPath)
const core = kubeConfig.makeApiClient(CoreV1Api)
await core.createNamespace({ body: { metadata: { name: 'shop' } } })

const status = new ServiceAccountStatus({ kubeConfig, annotationPrefix: 'session-guard.dev', instance: 'sync-0' })

t.test('writes and removes the association-id annotation, leaving the others alone', async (t) => {
  await core.createNamespacedServiceAccount({
    namespace: 'shop',
    body: { metadata: { name: 'cart', annotations: { 'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/r' } } },
  })
  t.equal(await status.setAssociationId({ namespace: 'shop', name: 'cart' }, 'a-0123456789abcdefg'), true)
  let sa = await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'cart' })
  t.same(sa.metadata?.annotations, {
    'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/r',
    'session-guard.dev/association-id': 'a-0123456789abcdefg',
  })
  t.equal(await status.setAssociationId({ namespace: 'shop', name: 'cart' }, null), true)
  sa = await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'cart' })
  t.same(sa.metadata?.annotations, { 'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/r' })
  t.equal(await status.setAssociationId({ namespace: 'shop', name: 'gone' }, 'a-0123456789abcdefg'), false, 'false when the ServiceAccount is gone')
})

t.test('records Events on the ServiceAccount', async (t) => {
  const sa = await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'cart' })
  const uid = sa.metadata?.uid as string
  await status.event({ namespace: 'shop', name: 'cart', uid }, 'Warning', 'Conflict', 'The association belongs to an add-on.')
  await status.event({ namespace: 'shop', name: 'cart', uid }, 'Normal', 'Synced', 'Created association a-0123456789abcdefg.')
  const events = await core.listNamespacedEvent({ namespace: 'shop', fieldSelector: 'involvedObject.name=cart' })
  t.same(
    events.items.map((e) => [e.type, e.reason, e.message, e.involvedObject.kind, e.involvedObject.uid, e.source?.component, e.reportingInstance]).sort(),
    [
      ['Normal', 'Synced', 'Created association a-0123456789abcdefg.', 'ServiceAccount', uid, 'session-guard-sync', 'sync-0'],
      ['Warning', 'Conflict', 'The association belongs to an add-on.', 'ServiceAccount', uid, 'session-guard-sync', 'sync-0'],
    ],
  )
})
