// The rendered chart against a real kube-apiserver (test/support/control-plane.ts): every option set
// passes the API server's own validation (CEL matchConditions compiled, strict field validation), and
// with the webhooks pointed at a recording HTTPS server the API server sends exactly the requests the
// matchConditions and namespaceSelector promise, and RBAC grants the sync sidecar what it needs only.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { stringify } from 'yaml'
import { startControlPlane } from '../support/control-plane.js'
import {
  type KubeObject,
  chartDir,
  parseManifests,
  releaseName,
  releaseNamespace,
  renderChart,
  repoRoot,
  requiredValues,
  runHelm,
} from '../support/helm.js'

// On a new machine the control plane is first built from source (scripts/tools/kube.sh).
t.setTimeout(60 * 60_000)

const plane = await startControlPlane()
t.teardown(() => plane.stop())

async function kubectl(args: string[], input?: string): Promise<string> {
  const result = await plane.kubectl(args, input === undefined ? {} : { input })
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result.stdout
}

const toManifest = (objects: KubeObject[]): string => objects.map((object) => stringify(object)).join('---\n')
// Custom resources whose definitions (cert-manager, Prometheus Operator) this bare API server lacks.
const withoutCustomResources = (objects: KubeObject[]): KubeObject[] =>
  objects.filter((object) => !/^(cert-manager\.io|monitoring\.coreos\.com)\//.test(object.apiVersion))

await kubectl(['create', 'namespace', releaseNamespace])
await kubectl(['create', 'namespace', 'team-a'])
await kubectl(['create', 'namespace', 'team-b'])

t.test('every option set passes the API server validation (server-side dry run, strict fields)', async (t) => {
  for (const file of ['helm-tls-values.yaml', 'cert-manager-values.yaml', 'existing-secret-values.yaml', 'url-mode-values.yaml', 'hardened-values.yaml']) {
    // A release name of its own: the real install below runs at the same time, and a dry run of the
    // same objects would race it into AlreadyExists.
    const rendered = await runHelm(['template', `dry-${releaseName}`, chartDir, '--namespace', releaseNamespace, '--values', `${chartDir}/ci/${file}`])
    t.equal(rendered.code, 0, rendered.stderr)
    const objects = withoutCustomResources(parseManifests(rendered.stdout))
    const result = await plane.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: toManifest(objects) })
    t.equal(result.code, 0, `ci/${file}: ${result.stderr}`)
    t.equal(result.stdout.trim().split('\n').length, objects.length, `ci/${file}: every object accepted`)
  }
})

// --- a recording webhook --------------------------------------------------------------------

interface Call {
  path: string
  operation: string
  target: string
  user: string
}

const calls: Call[] = []
const certDir = await mkdtemp(join(tmpdir(), 'session-guard-chart-certs-'))
t.teardown(() => rm(certDir, { recursive: true, force: true }))
await promisify(execFile)(`${repoRoot}certs/gen-dev-cert.sh`, ['localhost', certDir])

const recorder: Server = createServer(
  { cert: await readFile(join(certDir, 'tls.crt')), key: await readFile(join(certDir, 'tls.key')) },
  (request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      const review = JSON.parse(body) as {
        request: { uid: string; operation: string; namespace: string; name: string; userInfo: { username: string } }
      }
      const { uid, operation, namespace, name, userInfo } = review.request
      calls.push({ path: new URL(request.url ?? '/', recorderUrl).pathname, operation, target: `${namespace}/${name}`, user: userInfo.username })
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } }))
    })
  },
)
await new Promise<void>((listening) => recorder.listen(0, '127.0.0.1', listening))
t.teardown(() => new Promise<void>((closed) => recorder.close(() => closed())))
const recorderUrl = `https://127.0.0.1:${(recorder.address() as AddressInfo).port}`

const installed = await renderChart({
  webhook: { url: recorderUrl },
  tls: { caBundle: await readFile(join(certDir, 'ca.crt'), 'utf8') },
})
await kubectl(['apply', '-f', '-'], toManifest(installed))

/** The webhook calls that one kubectl command caused. */
async function callsOf(args: string[], input?: string): Promise<Call[]> {
  calls.length = 0
  await kubectl(args, input)
  return [...calls]
}

const serviceAccount = (namespace: string, name: string, annotations: Record<string, string> = {}): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, annotations } })
const roleArn = { 'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/eks-shared/s3-reader' }
const both = (operation: string, target: string, user = 'session-guard-e2e-admin'): Call[] => [
  { path: '/mutate', operation, target, user },
  { path: '/validate', operation, target, user },
]

t.test('only ServiceAccounts carrying an annotation under the prefix reach the webhooks', async (t) => {
  t.same(await callsOf(['apply', '-f', '-'], serviceAccount('team-a', 'plain')), [], 'no annotation: not sent')
  t.same(
    await callsOf(['apply', '-f', '-'], serviceAccount('team-a', 'plain', { 'example.com/owner': 'team-a' })),
    [],
    'another prefix: not sent',
  )
  t.same(await callsOf(['apply', '-f', '-'], serviceAccount('team-a', 'orders', roleArn)), both('CREATE', 'team-a/orders'))
  t.same(await callsOf(['label', 'serviceaccount', '-n', 'team-a', 'orders', 'tier=backend']), both('UPDATE', 'team-a/orders'))
  t.same(
    await callsOf(['annotate', 'serviceaccount', '-n', 'team-a', 'orders', 'session-guard.dev/role-arn-']),
    both('UPDATE', 'team-a/orders'),
    'removing the last annotation is still checked (oldObject carries it)',
  )
  t.same(await callsOf(['annotate', 'serviceaccount', '-n', 'team-a', 'orders', 'example.com/note=x']), [], 'unguarded now')
  t.same(await callsOf(['delete', 'serviceaccount', '-n', 'team-a', 'plain']), [], 'DELETE is never sent')
})

t.test('kube-system and the release namespace are never sent', async (t) => {
  t.same(await callsOf(['apply', '-f', '-'], serviceAccount('kube-system', 'guarded', roleArn)), [])
  t.same(await callsOf(['apply', '-f', '-'], serviceAccount(releaseNamespace, 'guarded', roleArn)), [])
})

const syncUser = `system:serviceaccount:${releaseNamespace}:session-guard`

t.test("the sync sidecar's own writes skip the webhooks; everyone else's are checked", async (t) => {
  await kubectl(['apply', '-f', '-'], serviceAccount('team-b', 'reports', roleArn))
  t.same(
    await callsOf(['annotate', '--as', syncUser, 'serviceaccount', '-n', 'team-b', 'reports', 'session-guard.dev/association-id=a-0123456789abcdef0']),
    [],
  )
  t.same(
    await callsOf(['annotate', '--as', 'jane', '--as-group', 'system:masters', 'serviceaccount', '-n', 'team-b', 'reports', 'session-guard.dev/association-id-']),
    both('UPDATE', 'team-b/reports', 'jane'),
  )
})

t.test('RBAC gives the sync ServiceAccount what it uses and nothing else', async (t) => {
  const can = async (...args: string[]): Promise<string> => {
    const result = await plane.kubectl(['auth', 'can-i', '--as', syncUser, ...args])
    return result.stdout.trim()
  }
  t.equal(await can('watch', 'serviceaccounts', '--all-namespaces'), 'yes')
  t.equal(await can('patch', 'serviceaccounts', '-n', 'team-a'), 'yes')
  t.equal(await can('create', 'events', '-n', 'team-a'), 'yes')
  t.equal(await can('create', 'leases', '-n', releaseNamespace), 'yes')
  t.equal(await can('update', 'leases/session-guard-sync', '-n', releaseNamespace), 'yes')
  t.equal(await can('update', 'leases/someone-else', '-n', releaseNamespace), 'no')
  t.equal(await can('get', 'leases/session-guard-sync', '-n', 'team-a'), 'no')
  t.equal(await can('get', 'secrets', '-n', releaseNamespace), 'no')
  t.equal(await can('delete', 'serviceaccounts', '-n', 'team-a'), 'no')
  t.equal(await can('patch', 'deployments', '-n', 'team-a'), 'no', 'no workload access without sync.restartWorkloads')
})

t.test('with failurePolicy Fail and no webhook, only guarded ServiceAccounts are blocked', async (t) => {
  await new Promise<void>((closed) => recorder.close(() => closed()))
  recorder.closeAllConnections()
  const guarded = await plane.kubectl(['apply', '-f', '-'], { input: serviceAccount('team-a', 'blocked', roleArn) })
  t.not(guarded.code, 0)
  t.match(guarded.stderr, 'failed calling webhook "mutate.session-guard.dev"')
  const plain = await plane.kubectl(['apply', '-f', '-'], { input: serviceAccount('team-a', 'unguarded') })
  t.equal(plain.code, 0, plain.stderr)
  const system = await plane.kubectl(['apply', '-f', '-'], { input: serviceAccount('kube-system', 'addon', roleArn) })
  t.equal(system.code, 0, system.stderr)
})

t.test('helm upgrade keeps the Helm-generated certificate and CA bundle (lookup)', async (t) => {
  const namespace = 'guard-upgrade'
  const helm = (args: string[]) => runHelm([...args, '--namespace', namespace], requiredValues, { kubeconfig: plane.kubeconfigPath })
  const tlsState = async (): Promise<{ secret: unknown; caBundles: string[] }> => {
    const secret = JSON.parse(await kubectl(['get', 'secret', '-n', namespace, 'stable-session-guard-tls', '-o', 'json'])) as { data: unknown }
    const caBundles = await Promise.all(
      ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'].map(async (kind) => {
        const configuration = JSON.parse(await kubectl(['get', kind, 'stable-session-guard', '-o', 'json'])) as {
          webhooks: { clientConfig: { caBundle: string } }[]
        }
        return configuration.webhooks[0]?.clientConfig.caBundle ?? ''
      }),
    )
    return { secret: secret.data, caBundles }
  }

  const install = await helm(['install', 'stable', chartDir, '--create-namespace'])
  t.equal(install.code, 0, install.stderr)
  const before = await tlsState()
  const ca = (before.secret as Record<string, string>)['ca.crt']
  t.same(before.caBundles, [ca, ca], 'both webhooks trust the Secret\'s CA')

  const upgrade = await helm(['upgrade', 'stable', chartDir, '--set', 'replicaCount=3'])
  t.equal(upgrade.code, 0, upgrade.stderr)
  t.same(await tlsState(), before, 'the same CA, certificate and key after the upgrade')

  // Its webhooks call a Service with no pods: uninstall before they block anyone.
  const uninstall = await runHelm(['uninstall', 'stable', '--namespace', namespace], undefined, { kubeconfig: plane.kubeconfigPath })
  t.equal(uninstall.code, 0, uninstall.stderr)
})
