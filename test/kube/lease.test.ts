import t from 'tap'
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import { LeaderElector } from '../../src/kube/lease.js'
import type { LeaderElectorOptions } from '../../src/kube/lease.js'
import { startControlPlane } from '../support/control-plane.js'

const plane = await startControlPlane()
t.teardown(() => plane.stop())
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(plane.kubeconfigPath)
const coordination = kubeConfig.makeApiClient(CoordinationV1Api)
const logger = pino({ level: 'silent' })
await plane.kubectl(['create', 'namespace', 'session-guard'])

let leaseNumber = 0
function candidates(...identities: string[]): { name: string; electors: LeaderElector[]; changes: string[] } {
  const name = `lease-${++leaseNumber}`
  const changes: string[] = []
  const electors = identities.map((identity) => {
    const options: LeaderElectorOptions = {
      kubeConfig,
      name,
      namespace: 'session-guard',
      identity,
      durationSeconds: 3,
      renewSeconds: 1,
      logger,
      onChange: (leading) => changes.push(`${identity} ${leading ? 'leads' : 'stands by'}`),
    }
    return new LeaderElector(options)
  })
  return { name, electors, changes }
}

async function holder(name: string): Promise<string | undefined> {
  const lease = await coordination.readNamespacedLease({ name, namespace: 'session-guard' })
  return lease.spec?.holderIdentity
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<number> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - started
}

t.test('the first candidate creates the lease; the second stands by', async (t) => {
  const { name, electors, changes } = candidates('a', 'b')
  const [a, b] = electors as [LeaderElector, LeaderElector]
  t.equal(await a.tryAcquireOrRenew(), true)
  t.equal(await b.tryAcquireOrRenew(), false)
  t.equal(await a.tryAcquireOrRenew(), true, 'the holder renews')
  t.equal(await holder(name), 'a')
  const lease = await coordination.readNamespacedLease({ name, namespace: 'session-guard' })
  t.match(lease.spec, { holderIdentity: 'a', leaseDurationSeconds: 3, leaseTransitions: 0 })
  t.same(changes, ['a leads'])
})

t.test('exactly one of several simultaneous candidates wins (resourceVersion conflicts)', async (t) => {
  const { name, electors } = candidates('a', 'b', 'c', 'd')
  const results = await Promise.all(electors.map((e) => e.tryAcquireOrRenew()))
  t.equal(results.filter(Boolean).length, 1, 'one winner on create')
  const winner = ['a', 'b', 'c', 'd'][results.indexOf(true)]
  t.equal(await holder(name), winner)
  // Later rounds keep the same single leader.
  const again = await Promise.all(electors.map((e) => e.tryAcquireOrRenew()))
  t.same(again, results)
})

t.test('a standby takes over within the lease duration once the leader stops renewing', async (t) => {
  const { name, electors, changes } = candidates('a', 'b')
  const [a, b] = electors as [LeaderElector, LeaderElector]
  t.equal(await a.tryAcquireOrRenew(), true)
  // a never renews again: it died. b watches the record stay unchanged for a full lease duration.
  const started = Date.now()
  b.start()
  t.teardown(() => b.stop())
  await until(() => b.isLeader(), 'b to take over')
  const waited = Date.now() - started
  t.ok(waited >= 3_000 && waited < 3_000 + 1_500, `took over after ${waited} ms (duration 3 s, retry 1 s)`)
  t.equal(await holder(name), 'b')
  const lease = await coordination.readNamespacedLease({ name, namespace: 'session-guard' })
  t.equal(lease.spec?.leaseTransitions, 1)
  t.equal(a.isLeader(), false, 'the old leader stepped down on its own, having not renewed in time')
  t.same(changes, ['a leads', 'b leads', 'a stands by'])
})

t.test('a leader that stops releases the lease, and a standby takes over at once', async (t) => {
  const { name, electors } = candidates('a', 'b')
  const [a, b] = electors as [LeaderElector, LeaderElector]
  a.start()
  await until(() => a.isLeader(), 'a to lead')
  b.start()
  t.teardown(() => b.stop())
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  t.equal(b.isLeader(), false, 'b stands by while a renews')
  await a.stop()
  t.equal(await holder(name), '', 'released')
  const waited = await until(() => b.isLeader(), 'b to take over')
  t.ok(waited < 1_500, `took over ${waited} ms after the release, without waiting for expiry`)
})

t.test('a leader that finds the lease taken steps down', async (t) => {
  const { name, electors, changes } = candidates('a', 'b')
  const [a] = electors as [LeaderElector]
  t.equal(await a.tryAcquireOrRenew(), true)
  const lease = await coordination.readNamespacedLease({ name, namespace: 'session-guard' })
  lease.spec = { ...lease.spec, holderIdentity: 'intruder' }
  await coordination.replaceNamespacedLease({ name, namespace: 'session-guard', body: lease })
  t.equal(await a.tryAcquireOrRenew(), false)
  t.equal(a.isLeader(), false)
  t.same(changes, ['a leads', 'a stands by'])
})
