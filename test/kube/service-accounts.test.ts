import t from 'tap'
import { KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import { listServiceAccounts, ServiceAccountWatcher } from '../../src/kube/service-accounts.js'
import type { ServiceAccountChange } from '../../src/kube/service-accounts.js'
import { startControlPlane } from '../support/control-plane.js'

// Without the watch cache for ServiceAccounts and with etcd compacted every second, a watch resumed from
// an old resourceVersion really gets 410 Gone.
const plane = await startControlPlane({
  apiServerArgs: ['--watch-cache-sizes=serviceaccounts#0', '--etcd-compaction-interval=1s'],
})
t.teardown(() => plane.stop())
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(plane.kubeconfigPath)
const logger = pino({ level: 'silent' })

async function kubectl(...args: string[]): Promise<void> {
  const result = await plane.kubectl(args)
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`)
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function describe(change: ServiceAccountChange): string {
  const sa = change.serviceAccount
  const role = sa.annotations['session-guard.dev/role-arn']
  return `${change.type} ${sa.namespace}/${sa.name}${role ? ` role=${role}` : ''}`
}

await kubectl('create', 'namespace', 'shop')
await kubectl('create', 'namespace', 'api')
await kubectl('create', 'serviceaccount', 'cart', '-n', 'shop')
await kubectl('create', 'serviceaccount', 'gateway', '-n', 'api')

t.test('lists the ServiceAccounts at start, then reports every change the watch sees', async (t) => {
  const changes: string[] = []
  const watcher = new ServiceAccountWatcher({ kubeConfig, namespaces: [], logger, pageSize: 1, onChange: (c) => changes.push(describe(c)) })
  t.teardown(() => watcher.stop())
  await watcher.start()
  t.same(changes.filter((c) => !c.includes('kube-system')).sort(), ['upsert api/gateway', 'upsert shop/cart'], 'pages of one, all read')
  t.match(watcher.get('shop', 'cart'), { namespace: 'shop', name: 'cart', uid: /^[0-9a-f-]{36}$/, annotations: {} })
  changes.length = 0

  await kubectl('create', 'serviceaccount', 'billing', '-n', 'shop')
  await kubectl('annotate', 'serviceaccount', 'billing', '-n', 'shop', 'session-guard.dev/role-arn=arn:aws:iam::111122223333:role/r')
  await kubectl('delete', 'serviceaccount', 'billing', '-n', 'shop')
  await until(() => changes.length === 3, 'three changes')
  t.same(changes, [
    'upsert shop/billing',
    'upsert shop/billing role=arn:aws:iam::111122223333:role/r',
    'delete shop/billing role=arn:aws:iam::111122223333:role/r',
  ])
  t.equal(watcher.get('shop', 'billing'), undefined)
})

t.test('watches only the configured namespaces', async (t) => {
  const changes: string[] = []
  const watcher = new ServiceAccountWatcher({ kubeConfig, namespaces: ['shop'], logger, onChange: (c) => changes.push(describe(c)) })
  t.teardown(() => watcher.stop())
  await watcher.start()
  t.same(watcher.list().map((sa) => `${sa.namespace}/${sa.name}`), ['shop/cart'])
  await kubectl('create', 'serviceaccount', 'ignored', '-n', 'api')
  await kubectl('create', 'serviceaccount', 'seen', '-n', 'shop')
  await until(() => changes.includes('upsert shop/seen'), 'shop/seen')
  t.notOk(changes.some((c) => c.includes('api/')), 'nothing from api')
  t.same(
    (await listServiceAccounts(kubeConfig, ['shop'])).map((sa) => sa.name).sort(),
    ['cart', 'seen'],
    'the one-shot list agrees',
  )
})

t.test('resumes a stopped watch from its resourceVersion, replaying what happened meanwhile', async (t) => {
  const changes: string[] = []
  const watcher = new ServiceAccountWatcher({ kubeConfig, namespaces: ['shop'], logger, onChange: (c) => changes.push(describe(c)) })
  t.teardown(() => watcher.stop())
  await watcher.start()
  await watcher.stop()
  changes.length = 0
  await kubectl('create', 'serviceaccount', 'while-stopped', '-n', 'shop')
  await watcher.start()
  await until(() => changes.includes('upsert shop/while-stopped'), 'the replayed create')
  t.equal(watcher.listCount, 1, 'no new list: the watch resumed')
})

t.test('lists afresh when the resourceVersion has expired (410 Gone), reporting deletes missed', async (t) => {
  const changes: string[] = []
  const watcher = new ServiceAccountWatcher({ kubeConfig, namespaces: ['shop'], logger, onChange: (c) => changes.push(describe(c)) })
  t.teardown(() => watcher.stop())
  await watcher.start()
  await watcher.stop()
  changes.length = 0
  await kubectl('delete', 'serviceaccount', 'cart', '-n', 'shop')
  await kubectl('create', 'serviceaccount', 'after-expiry', '-n', 'shop')
  // Compaction runs every second and compacts to the revision of the run before: wait for two.
  await new Promise((resolve) => setTimeout(resolve, 3_500))
  await watcher.start()
  await until(() => changes.length >= 2, 'the changes found by the fresh list')
  t.equal(watcher.listCount, 2, 'a second list after 410 Gone')
  t.same(changes.sort(), ['delete shop/cart', 'upsert shop/after-expiry'])
})
