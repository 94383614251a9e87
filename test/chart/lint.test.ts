// The option sets in charts/session-guard/ci/ (one per TLS mode, URL mode, every opt-in on): each lints
// strictly and renders exactly the objects it should, labelled and namespaced.
import t from 'tap'
import {
  chartDir,
  inventory,
  parseManifests,
  releaseName,
  releaseNamespace,
  renderError,
  runHelm,
} from '../support/helm.js'

const common = [
  'ClusterRole/session-guard-sync',
  'ConfigMap/session-guard/session-guard',
  'Deployment/session-guard/session-guard',
  'MutatingWebhookConfiguration/session-guard',
  'PodDisruptionBudget/session-guard/session-guard',
  'Role/session-guard/session-guard-lease',
  'RoleBinding/session-guard/session-guard-lease',
  'Service/session-guard/session-guard',
  'ServiceAccount/session-guard/session-guard',
  'ValidatingWebhookConfiguration/session-guard',
]

const optionSets: Record<string, string[]> = {
  'helm-tls-values.yaml': [...common, 'ClusterRoleBinding/session-guard-sync', 'Secret/session-guard/session-guard-tls'],
  'cert-manager-values.yaml': [
    ...common,
    'ClusterRoleBinding/session-guard-sync',
    'Certificate/session-guard/session-guard-ca',
    'Certificate/session-guard/session-guard-serving',
    'Issuer/session-guard/session-guard-ca',
    'Issuer/session-guard/session-guard-selfsigned',
  ],
  'existing-secret-values.yaml': [...common, 'ClusterRoleBinding/session-guard-sync'],
  'url-mode-values.yaml': [...common, 'ClusterRoleBinding/session-guard-sync', 'Secret/session-guard/session-guard-tls'],
  'hardened-values.yaml': [
    ...common,
    'NetworkPolicy/session-guard/session-guard',
    'RoleBinding/team-a/session-guard-sync',
    'RoleBinding/team-b/session-guard-sync',
    'Secret/session-guard/session-guard-tls',
    'ServiceMonitor/session-guard/session-guard',
  ],
}

const clusterScoped = ['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']

for (const [file, expected] of Object.entries(optionSets)) {
  t.test(`ci/${file} lints strictly and renders its objects`, async (t) => {
    const valuesFile = `${chartDir}/ci/${file}`
    const lint = await runHelm(['lint', '--strict', chartDir, '--values', valuesFile])
    t.equal(lint.code, 0, lint.stdout + lint.stderr)
    t.match(lint.stdout, '1 chart(s) linted, 0 chart(s) failed')
    t.notMatch(lint.stdout, /\[(WARNING|ERROR)\]/, 'no lint warnings')

    const rendered = await runHelm(['template', releaseName, chartDir, '--namespace', releaseNamespace, '--values', valuesFile])
    t.equal(rendered.code, 0, rendered.stderr)
    const objects = parseManifests(rendered.stdout)
    t.same(inventory(objects), [...expected].sort())
    for (const object of objects) {
      const where = `${object.kind}/${object.metadata.name}`
      if (clusterScoped.includes(object.kind)) t.equal(object.metadata.namespace, undefined, `${where} is cluster-scoped`)
      else if (object.kind !== 'RoleBinding' || object.metadata.name !== 'session-guard-sync')
        t.equal(object.metadata.namespace, releaseNamespace, `${where} is in the release namespace`)
      t.same(
        {
          name: object.metadata.labels?.['app.kubernetes.io/name'],
          instance: object.metadata.labels?.['app.kubernetes.io/instance'],
          managedBy: object.metadata.labels?.['app.kubernetes.io/managed-by'],
          chart: object.metadata.labels?.['helm.sh/chart'],
        },
        { name: 'session-guard', instance: 'session-guard', managedBy: 'Helm', chart: 'session-guard-0.1.0' },
        `${where} carries the standard labels`,
      )
    }
  })
}

t.test('the chart refuses Kubernetes older than 1.30 (matchConditions)', async (t) => {
  const result = await runHelm(
    ['template', releaseName, chartDir, '--namespace', releaseNamespace, '--kube-version', '1.29.0', '--values', `${chartDir}/ci/helm-tls-values.yaml`],
  )
  t.not(result.code, 0)
  t.match(result.stderr, 'chart requires kubeVersion: >=1.30.0-0 which is incompatible with Kubernetes v1.29.0')
})

t.test('values.schema.json rejects a wrong value with a message naming it', async (t) => {
  const failurePolicy = await renderError({ webhook: { failurePolicy: 'Sometimes' } })
  t.match(failurePolicy, "values don't meet the specifications of the schema(s)")
  t.match(failurePolicy, "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'")
  t.match(await renderError({ webhook: { timeoutSeconds: 31 } }), "at '/webhook/timeoutSeconds': maximum: got 31, want 30")
  t.match(await renderError({ replicaCount: 'two' }), "at '/replicaCount': got string, want integer")
  t.match(await renderError({ tls: { mode: 'selfSigned' } }), "at '/tls/mode': value must be one of 'helm', 'certManager', 'existingSecret'")
  t.match(await renderError({ webhook: { failurPolicy: 'Fail' } }), "at '/webhook': additional properties 'failurPolicy' not allowed")
})
