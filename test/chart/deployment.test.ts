import t from 'tap'
import { type KubeObject, ofKind, only, renderChart, renderError } from '../support/helm.js'

interface Container {
  name: string
  image: string
  args: string[]
  [field: string]: unknown
}

interface PodSpec {
  containers: Container[]
  volumes: unknown[]
  [field: string]: unknown
}

interface Deployment extends KubeObject {
  spec: {
    replicas: number
    strategy: unknown
    selector: unknown
    template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: PodSpec }
  }
}

function deploymentOf(objects: KubeObject[]): Deployment {
  return only(objects, 'Deployment', 'session-guard') as Deployment
}

function containerOf(deployment: Deployment, name: string): Container {
  const container = deployment.spec.template.spec.containers.find((candidate) => candidate.name === name)
  if (!container) throw new Error(`no ${name} container`)
  return container
}

const selectorLabels = { 'app.kubernetes.io/name': 'session-guard', 'app.kubernetes.io/instance': 'session-guard' }

const hardenedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
}

t.test('pods run hardened: non-root, read-only root, no privilege, no capabilities, RuntimeDefault seccomp', async (t) => {
  const deployment = deploymentOf(await renderChart())
  const pod = deployment.spec.template.spec
  t.same(pod.securityContext, {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    fsGroup: 65532,
    seccompProfile: { type: 'RuntimeDefault' },
  })
  t.same(
    pod.containers.map((container) => container.name),
    ['webhook', 'sync'],
  )
  for (const container of pod.containers) t.same(container.securityContext, hardenedContainer, `${container.name} is hardened`)
  t.equal(pod.automountServiceAccountToken, false, 'no token in every container')
  t.equal(pod.enableServiceLinks, false)
  t.equal(pod.serviceAccountName, 'session-guard')
})

t.test('two replicas roll out without losing a serving webhook and spread over zones and nodes', async (t) => {
  const deployment = deploymentOf(await renderChart())
  t.equal(deployment.spec.replicas, 2)
  t.same(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } })
  t.same(deployment.spec.selector, { matchLabels: selectorLabels })
  t.same(deployment.spec.template.metadata.labels, selectorLabels)
  t.same(deployment.spec.template.spec.topologySpreadConstraints, [
    { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selectorLabels } },
    { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selectorLabels } },
  ])
  const custom = [{ maxSkew: 2, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { a: 'b' } } }]
  const overridden = deploymentOf(await renderChart({ topologySpreadConstraints: custom, replicaCount: 3 }))
  t.same(overridden.spec.template.spec.topologySpreadConstraints, custom, 'a given list is used as written')
  t.equal(overridden.spec.replicas, 3)
})

t.test('the webhook container serves HTTPS with the mounted certificate and config', async (t) => {
  const webhook = containerOf(deploymentOf(await renderChart()), 'webhook')
  t.equal(webhook.image, 'ghcr.io/session-guard/session-guard:0.1.0')
  t.equal(webhook.imagePullPolicy, 'IfNotPresent')
  t.same(webhook.args, [
    'webhook',
    '--config',
    '/etc/session-guard/config.yaml',
    '--tls-cert',
    '/etc/session-guard/tls/tls.crt',
    '--tls-key',
    '/etc/session-guard/tls/tls.key',
  ])
  t.same(webhook.ports, [
    { name: 'https', containerPort: 8443, protocol: 'TCP' },
    { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
  ])
  t.same(webhook.readinessProbe, {
    httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold: 2,
  })
  t.same(webhook.lifecycle, { preStop: { sleep: { seconds: 5 } } }, 'keeps answering while it leaves the endpoints')
  t.same(webhook.livenessProbe, {
    httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' },
    initialDelaySeconds: 5,
    periodSeconds: 10,
    timeoutSeconds: 2,
    failureThreshold: 3,
  })
  t.same(webhook.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } })
  t.same(webhook.volumeMounts, [
    { name: 'config', mountPath: '/etc/session-guard/config.yaml', subPath: 'config.yaml', readOnly: true },
    { name: 'tls', mountPath: '/etc/session-guard/tls', readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ])
})

t.test('the sync container alone gets a Kubernetes API token, and no readiness probe', async (t) => {
  const deployment = deploymentOf(await renderChart())
  const sync = containerOf(deployment, 'sync')
  t.equal(sync.image, 'ghcr.io/session-guard/session-guard:0.1.0')
  t.same(sync.args, ['sync', '--config', '/etc/session-guard/config.yaml'])
  t.same(sync.ports, [{ name: 'sync-http', containerPort: 8081, protocol: 'TCP' }])
  t.equal(sync.readinessProbe, undefined, 'a standby sync sidecar never takes its webhook out of the Service')
  t.same(sync.livenessProbe, {
    httpGet: { path: '/healthz', port: 'sync-http' },
    initialDelaySeconds: 5,
    periodSeconds: 10,
    timeoutSeconds: 2,
    failureThreshold: 3,
  })
  t.same(sync.resources, { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } })
  t.same(sync.volumeMounts, [
    { name: 'config', mountPath: '/etc/session-guard/config.yaml', subPath: 'config.yaml', readOnly: true },
    { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ])
  t.same(deployment.spec.template.spec.volumes, [
    { name: 'config', configMap: { name: 'session-guard' } },
    { name: 'tls', secret: { secretName: 'session-guard-tls', defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    {
      name: 'kube-api-access',
      projected: {
        defaultMode: 0o444,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    },
  ])
})

t.test('sync.enabled false leaves a webhook-only pod with no API access at all', async (t) => {
  const objects = await renderChart({ sync: { enabled: false } })
  const pod = deploymentOf(objects).spec.template.spec
  t.same(
    pod.containers.map((container) => container.name),
    ['webhook'],
  )
  t.same(
    pod.volumes.map((volume) => (volume as { name: string }).name),
    ['config', 'tls', 'tmp'],
  )
  for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']) t.same(ofKind(objects, kind), [], `no ${kind}`)
})

t.test('the TLS volume follows tls.mode', async (t) => {
  const secretNameOf = async (values: unknown): Promise<unknown> =>
    (deploymentOf(await renderChart(values)).spec.template.spec.volumes[1] as { secret: { secretName: string } }).secret.secretName
  t.equal(await secretNameOf({ tls: { mode: 'certManager' } }), 'session-guard-tls')
  t.equal(await secretNameOf({ tls: { mode: 'existingSecret', existingSecret: { name: 'corp-serving' }, caBundle: 'Zm9v' } }), 'corp-serving')
})

t.test('the image is pinned by tag, optionally by digest, and never latest', async (t) => {
  const imageOf = async (values: unknown): Promise<string> => containerOf(deploymentOf(await renderChart(values)), 'sync').image
  t.equal(await imageOf({ image: { tag: '1.4.2' } }), 'ghcr.io/session-guard/session-guard:1.4.2')
  const digest = `sha256:${'a'.repeat(64)}`
  t.equal(
    await imageOf({ image: { repository: 'registry.example/sg', digest } }),
    `registry.example/sg:0.1.0@${digest}`,
  )
  t.match(await renderError({ image: { tag: 'latest' } }), "at '/image/tag': 'not' failed")
  t.match(await renderError({ image: { digest: 'sha256:short' } }), "at '/image/digest'")
})

t.test('a config change rolls the pods; everything else leaves the checksum alone', async (t) => {
  const checksumOf = async (values: unknown): Promise<string | undefined> =>
    deploymentOf(await renderChart(values)).spec.template.metadata.annotations['checksum/config']
  const base = await checksumOf({})
  t.match(base, /^[0-9a-f]{64}$/)
  t.equal(await checksumOf({ replicaCount: 3 }), base)
  t.not(await checksumOf({ config: { mode: 'warn' } }), base)
})

t.test('pod placement values reach the pod spec', async (t) => {
  const deployment = deploymentOf(
    await renderChart({
      priorityClassName: 'system-cluster-critical',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
      imagePullSecrets: [{ name: 'registry-credentials' }],
      podAnnotations: { 'example.com/team': 'platform' },
      terminationGracePeriodSeconds: 45,
    }),
  )
  const pod = deployment.spec.template.spec
  t.equal(deployment.spec.template.metadata.annotations['example.com/team'], 'platform')
  t.equal(pod.priorityClassName, 'system-cluster-critical')
  t.same(pod.nodeSelector, { 'kubernetes.io/os': 'linux' })
  t.same(pod.tolerations, [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }])
  t.same(pod.imagePullSecrets, [{ name: 'registry-credentials' }])
  t.equal(pod.terminationGracePeriodSeconds, 45)
})

t.test('the PodDisruptionBudget keeps one pod and lets unhealthy ones go', async (t) => {
  const pdbOf = async (values: unknown): Promise<unknown> => only(await renderChart(values), 'PodDisruptionBudget', 'session-guard').spec
  t.same(await pdbOf({}), { minAvailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: selectorLabels } })
  t.same(await pdbOf({ podDisruptionBudget: { maxUnavailable: '50%' } }), {
    maxUnavailable: '50%',
    unhealthyPodEvictionPolicy: 'AlwaysAllow',
    selector: { matchLabels: selectorLabels },
  })
  t.same(ofKind(await renderChart({ podDisruptionBudget: { enabled: false } }), 'PodDisruptionBudget'), [])
})
