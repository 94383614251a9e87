import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { startControlPlane } from '../support/control-plane.js'
import { startEksEmulator } from '../support/eks-emulator.js'
import { policyFor, prefix, readerRole, stateOf } from './harness.js'
import { until } from '../support/until.js'

const child = fileURLToPath(new URL('./sidecar-child.ts', import.meta.url))

const plane = await startControlPlane()
t.teardown(() => plane.stop())
const emulator = await startEksEmulator()
t.teardown(() => emulator.close())
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(plane.kubeconfigPath)
const core = kubeConfig.makeApiClient(CoreV1Api)
const coordination = kubeConfig.makeApiClient(CoordinationV1Api)
for (const name of ['shop', 'session-guard']) await core.createNamespace({ body: { metadata: { name } } })

interface Sidecar {
  process: ChildProcess
  lines: string[]
  port: number
  exited: Promise<number | string>
}

async function startSidecar(identity: string): Promise<Sidecar> {
  const proc = spawn(process.execPath, [...process.execArgv, child], {
    env: { ...process.env, SIDECAR_KUBECONFIG: plane.kubeconfigPath, SIDECAR_EKS_ENDPOINT: emulator.endpoint, SIDECAR_IDENTITY: identity },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  const lines: string[] = []
  let buffered = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const parts = buffered.split('\n')
    buffered = parts.pop() ?? ''
    lines.push(...parts)
  })
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const portLine = await until(() => lines.find((l) => l.startsWith('port ')), `${identity} to listen`)
  return { process: proc, lines, port: Number(portLine.slice(5)), exited }
}


/** EKS write calls this sidecar made, from its own metrics. */
async function writesOf(sidecar: Sidecar): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sidecar.port}/metrics`)).text()
  let writes = 0
  for (const match of text.matchAll(/^session_guard_sync_eks_calls_total\{operation="(create|update|delete|tag)",outcome="[^"]+"\} (\d+)$/gm)) {
    writes += Number(match[2])
  }
  return writes
}

async function guard(name: string): Promise<void> {
  await core.createNamespacedServiceAccount({
    namespace: 'shop',
    body: {
      metadata: {
        name,
        annotations: {
          [`${prefix}/role-arn`]: readerRole,
          [`${prefix}/session-policy`]: policyFor(name),
          [`${prefix}/normalized-policy`]: policyFor(name),
          [`${prefix}/disable-session-tags`]: 'true',
        },
      },
    },
  })
}

const associationNames = (): string[] => emulator.associations().map((a) => a.serviceAccount).sort()

t.test('two sidecar processes: one writes, the other takes over when it is killed, then hands over on SIGTERM', async (t) => {
  const a = await startSidecar('sync-a')
  await until(() => a.lines.includes('leading'), 'a to lead')
  const b = await startSidecar('sync-b')
  await until(async () => (await fetch(`http://127.0.0.1:${b.port}/readyz`)).status === 200, 'b to be ready')

  await guard('cart')
  await until(() => associationNames().includes('cart'), 'the cart association')
  t.equal(await writesOf(a), 1, 'the leader made the create')
  t.equal(await writesOf(b), 0, 'the standby wrote nothing')
  t.notOk(b.lines.includes('leading'), 'and never led')

  a.process.kill('SIGKILL')
  t.equal(await a.exited, 'SIGKILL')
  const killedAt = Date.now()
  // While nobody leads: a new guarded ServiceAccount, and one deleted whose association must go.
  await guard('billing')
  await core.deleteNamespacedServiceAccount({ namespace: 'shop', name: 'cart' })
  await until(() => b.lines.includes('leading'), 'b to take over')
  const tookOverMs = Date.now() - killedAt
  t.ok(tookOverMs < 3_000 + 1_000 + 1_000, `b took over ${tookOverMs} ms after the kill (lease 3 s, retry 1 s)`)
  await until(() => associationNames().join() === 'billing', 'b to converge')
  t.same(stateOf(emulator.associations()), ['shop/billing role=shared-reader target=- policy=billing noTags=true owner=test-install'])
  t.equal(await writesOf(b), 2, 'b made the create and the delete')

  const c = await startSidecar('sync-c')
  await until(async () => (await fetch(`http://127.0.0.1:${c.port}/readyz`)).status === 200, 'c to be ready')
  b.process.kill('SIGTERM')
  t.equal(await b.exited, 0, 'b stops gracefully')
  const lease = await coordination.readNamespacedLease({ name: 'sync', namespace: 'session-guard' })
  t.ok(lease.spec?.holderIdentity === '' || lease.spec?.holderIdentity === 'sync-c', 'b released the lease')
  const releasedAt = Date.now()
  await until(() => c.lines.includes('leading'), 'c to take over')
  t.ok(Date.now() - releasedAt < 2_000, 'c took over without waiting for the lease to expire')
  await guard('stock')
  await until(() => associationNames().join() === 'billing,stock', 'c to create stock')
  t.equal(await writesOf(c), 1)
  c.process.kill('SIGTERM')
  t.equal(await c.exited, 0)
})
