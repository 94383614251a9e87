import t from 'tap'
import { type KubeObject, inventory, ofKind, only, renderChart } from '../support/helm.js'

interface Rule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
  resourceNames?: string[]
}

const rbacKinds = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']
const rbacOf = (objects: KubeObject[]): string[] => inventory(objects.filter((object) => rbacKinds.includes(object.kind)))
const rulesOf = (object: KubeObject): Rule[] => (object as KubeObject & { rules: Rule[] }).rules

const serviceAccountRule: Rule = { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch', 'patch'] }
const eventRule: Rule = { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] }
const workloadRule: Rule = { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['list', 'patch'] }
const chartServiceAccount = [{ kind: 'ServiceAccount', name: 'session-guard', namespace: 'session-guard' }]

t.test('by default the sync sidecar may read and annotate ServiceAccounts and write Events, cluster-wide', async (t) => {
  const objects = await renderChart()
  t.same(rbacOf(objects), [
    'ClusterRole/session-guard-sync',
    'ClusterRoleBinding/session-guard-sync',
    'Role/session-guard/session-guard-lease',
    'RoleBinding/session-guard/session-guard-lease',
  ])
  t.same(rulesOf(only(objects, 'ClusterRole')), [serviceAccountRule, eventRule])
  const binding = only(objects, 'ClusterRoleBinding') as KubeObject & { roleRef: unknown; subjects: unknown }
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'session-guard-sync' })
  t.same(binding.subjects, chartServiceAccount)
})

t.test('leader election gets its one Lease in the release namespace', async (t) => {
  const expectedRules = (lease: string): Rule[] => [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [lease], verbs: ['get', 'update'] },
  ]
  const objects = await renderChart()
  const role = only(objects, 'Role', 'session-guard-lease')
  t.equal(role.metadata.namespace, 'session-guard')
  t.same(rulesOf(role), expectedRules('session-guard-sync'))
  const binding = only(objects, 'RoleBinding', 'session-guard-lease') as KubeObject & { roleRef: unknown; subjects: unknown }
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'session-guard-lease' })
  t.same(binding.subjects, chartServiceAccount)
  t.same(rulesOf(only(await renderChart({ sync: { lease: { name: 'guard-leader' } } }), 'Role')), expectedRules('guard-leader'))
})

t.test('sync.restartWorkloads adds list and patch on the three workload kinds, and only then', async (t) => {
  t.same(rulesOf(only(await renderChart({ sync: { restartWorkloads: true } }), 'ClusterRole')), [
    serviceAccountRule,
    eventRule,
    workloadRule,
  ])
  t.same(rulesOf(only(await renderChart({ sync: { restartWorkloads: false } }), 'ClusterRole')), [serviceAccountRule, eventRule])
})

t.test('sync.namespaces binds the rules in those namespaces only', async (t) => {
  const objects = await renderChart({ sync: { namespaces: ['team-a', 'team-b'] } })
  t.same(rbacOf(objects), [
    'ClusterRole/session-guard-sync',
    'Role/session-guard/session-guard-lease',
    'RoleBinding/session-guard/session-guard-lease',
    'RoleBinding/team-a/session-guard-sync',
    'RoleBinding/team-b/session-guard-sync',
  ])
  for (const namespace of ['team-a', 'team-b']) {
    const binding = ofKind(objects, 'RoleBinding').find((object) => object.metadata.namespace === namespace) as KubeObject & {
      roleRef: unknown
      subjects: unknown
    }
    t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'session-guard-sync' })
    t.same(binding.subjects, chartServiceAccount)
  }
})

t.test('no rule anywhere uses a wildcard or touches Secrets', async (t) => {
  for (const values of [{}, { sync: { restartWorkloads: true } }, { sync: { namespaces: ['team-a'] }, tls: { mode: 'certManager' } }]) {
    const objects = await renderChart(values)
    for (const role of [...ofKind(objects, 'ClusterRole'), ...ofKind(objects, 'Role')]) {
      for (const rule of rulesOf(role)) {
        const words = [...rule.apiGroups, ...rule.resources, ...rule.verbs, ...(rule.resourceNames ?? [])]
        t.notOk(words.some((word) => word.includes('*')), `${role.metadata.name}: ${JSON.stringify(rule)} has no wildcard`)
        t.notOk(rule.resources.includes('secrets'), `${role.metadata.name} grants nothing on Secrets`)
        t.notOk(rule.verbs.some((verb) => ['delete', 'deletecollection', 'escalate', 'bind', 'impersonate'].includes(verb)))
      }
    }
  }
})

t.test('the ServiceAccount carries its annotations and mounts no token by itself', async (t) => {
  const objects = await renderChart({
    serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/session-guard' } },
  })
  const serviceAccount = only(objects, 'ServiceAccount', 'session-guard') as KubeObject & { automountServiceAccountToken: boolean }
  t.same(serviceAccount.metadata.annotations, { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/session-guard' })
  t.equal(serviceAccount.automountServiceAccountToken, false)

  const external = await renderChart({ serviceAccount: { create: false, name: 'platform-guard' } })
  t.same(ofKind(external, 'ServiceAccount'), [], 'an existing ServiceAccount is not created')
  t.same((only(external, 'ClusterRoleBinding') as KubeObject & { subjects: unknown }).subjects, [
    { kind: 'ServiceAccount', name: 'platform-guard', namespace: 'session-guard' },
  ])
})
