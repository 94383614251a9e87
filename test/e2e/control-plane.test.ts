import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import t from 'tap'
import { startControlPlane } from '../support/control-plane.js'

// On a new machine startControlPlane first builds kube-apiserver, kubectl and etcd from source.
t.setTimeout(60 * 60_000)

const started = Date.now()
const plane = await startControlPlane()
t.teardown(() => plane.stop())
t.comment(`kube-apiserver: ${plane.versions['kube-apiserver']}`)
t.comment(`etcd: ${plane.versions.etcd}`)
t.comment(`kubectl: ${plane.versions.kubectl}`)
t.comment(`control plane ready at ${plane.server} in ${Date.now() - started} ms`)

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration'

t.test('reports the versions of the programs it runs', async (t) => {
  t.match(plane.versions['kube-apiserver'], /^Kubernetes v1\.\d+\.\d+$/, 'kube-apiserver names a release')
  t.match(plane.versions.kubectl, /^Client Version: v1\.\d+\.\d+ Kustomize Version: v\d+\.\d+\.\d+$/, 'kubectl names a release')
  t.match(plane.versions.etcd, /^etcd Version: 3\.\d+\.\d+ /, 'etcd names a release')
})

t.test('authenticates the admin token as a member of system:masters', async (t) => {
  const whoami = await plane.kubectl(['auth', 'whoami', '-o', 'json'])
  t.equal(whoami.code, 0, whoami.stderr)
  t.same(JSON.parse(whoami.stdout).status.userInfo, {
    username: 'session-guard-e2e-admin',
    uid: 'session-guard-e2e-admin',
    groups: ['system:masters', 'system:authenticated'],
  })
})

t.test('creates a namespace and an annotated ServiceAccount with kubectl apply', async (t) => {
  const serviceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: 'reports',
      namespace: 'team-a',
      annotations: {
        'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/shared-readers',
        'session-guard.dev/disable-session-tags': 'true',
        'session-guard.dev/session-policy': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}',
      },
    },
  }
  const manifest = `apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
${JSON.stringify(serviceAccount)}
`
  const applied = await plane.kubectl(['apply', '-f', '-'], { input: manifest })
  t.same(applied, { code: 0, stdout: 'namespace/team-a created\nserviceaccount/reports created\n', stderr: '' })

  const namespace = await plane.kubectl(['get', 'namespace', 'team-a', '-o', 'json'])
  t.equal(namespace.code, 0, namespace.stderr)
  t.equal(JSON.parse(namespace.stdout).status.phase, 'Active', 'the namespace is active')

  const read = await plane.kubectl(['get', 'serviceaccount', 'reports', '--namespace', 'team-a', '-o', 'json'])
  t.equal(read.code, 0, read.stderr)
  const stored = JSON.parse(read.stdout)
  t.equal(stored.kind, 'ServiceAccount')
  t.equal(stored.metadata.name, 'reports')
  t.equal(stored.metadata.namespace, 'team-a')
  const { [lastApplied]: appliedConfiguration, ...annotations } = stored.metadata.annotations
  t.same(annotations, serviceAccount.metadata.annotations, 'the annotations are stored exactly as applied')
  t.same(JSON.parse(appliedConfiguration), serviceAccount, 'kubectl recorded what it applied')
})

t.test('stores a coordination.k8s.io/v1 Lease', async (t) => {
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'session-guard-sync', namespace: 'team-a' },
    spec: { holderIdentity: 'sync-0', leaseDurationSeconds: 15, leaseTransitions: 0 },
  }
  const created = await plane.kubectl(['create', '-f', '-'], { input: JSON.stringify(lease) })
  t.same(created, { code: 0, stdout: 'lease.coordination.k8s.io/session-guard-sync created\n', stderr: '' })

  const read = await plane.kubectl(['get', 'lease', 'session-guard-sync', '--namespace', 'team-a', '-o', 'json'])
  t.equal(read.code, 0, read.stderr)
  const stored = JSON.parse(read.stdout)
  t.equal(stored.apiVersion, 'coordination.k8s.io/v1')
  t.same(stored.spec, lease.spec, 'the lease spec is stored as created')
})

t.test('stop() ends the processes and removes the directory', async (t) => {
  await plane.stop()
  t.equal(existsSync(plane.dir), false, 'the temporary directory is gone')
  const port = Number(new URL(plane.server).port)
  const refused = await new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
  t.equal(refused, 'ECONNREFUSED', 'nothing listens on the API server port any more')
  await t.resolves(plane.stop(), 'a second stop() is harmless')
})
