// What a developer sees at `kubectl apply` and what lands in EKS, end to end: the chart installed with
// helm into a real kube-apiserver, the webhook and one sync process running from dist/cli.js, base roles
// read from IAM (moto), associations written to the EKS emulator. Issue 6, scenarios 1 to 5.
import { PutRolePolicyCommand } from '@aws-sdk/client-iam'
import t from 'tap'
import {
  type E2eEnv,
  clusterName,
  installationId,
  namespaceObject,
  prefix,
  roleArn,
  serviceAccount,
  startE2eEnv,
  until,
} from '../support/e2e-env.js'

// On a new machine the control plane, helm and moto are first built or installed (minutes).
t.setTimeout(60 * 60_000)

const s3Reader = roleArn('e2e-s3-reader')
const taggedReader = roleArn('e2e-tagged-reader')
const queueWorker = roleArn('e2e-queue-worker')
const addonRole = roleArn('e2e-addon')

const statement = (Action: string[], Resource: string | string[], extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Action, Resource, ...extra })
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement })

const started = Date.now()
const env: E2eEnv = await startE2eEnv({
  baseRoles: {
    'e2e-s3-reader': { read: doc(statement(['s3:GetObject', 's3:ListBucket'], ['arn:aws:s3:::shop-data', 'arn:aws:s3:::shop-data/*'])) },
    'e2e-tagged-reader': {
      read: doc(
        statement(['s3:GetObject'], 'arn:aws:s3:::shop-data/*'),
        statement(['s3:GetObject'], 'arn:aws:s3:::team-data/*', { Condition: { StringEquals: { 'aws:PrincipalTag/kubernetes-namespace': 'team-a' } } }),
      ),
    },
    'e2e-queue-worker': { consume: doc(statement(['sqs:ReceiveMessage'], 'arn:aws:sqs:eu-west-1:123456789012:orders')) },
    'e2e-addon': { addon: doc(statement(['ec2:DescribeInstances'], '*')) },
  },
  values: { config: { guardrails: { allowedRoles: [{ namespaces: ['team-*'], roles: [roleArn('e2e-*')] }] } } },
  // The sync starts below, once the add-on association it must leave alone exists.
  syncProcesses: 0,
})
t.teardown(() => env.stop())
for (const [name, version] of Object.entries(env.versions)) t.comment(`${name}: ${version}`)

// An association an EKS add-on owns, for a ServiceAccount that will later carry our annotations too.
const addonAssociation = env.emulator.seedAssociation({
  namespace: 'team-a',
  serviceAccount: 'ebs-csi',
  roleArn: addonRole,
  ownerArn: `arn:aws:eks:eu-west-1:123456789012:addon/${clusterName}/aws-ebs-csi-driver/0c1a2b3c`,
})
const sync = await env.startSync('sync-0')
await until(() => sync.isLeading(), 'the sync process to lead')
t.comment(`environment ready in ${Date.now() - started} ms`)

const ann = {
  roleArn: `${prefix}/role-arn`,
  sessionPolicy: `${prefix}/session-policy`,
  disableSessionTags: `${prefix}/disable-session-tags`,
  normalizedPolicy: `${prefix}/normalized-policy`,
  associationId: `${prefix}/association-id`,
}
const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration'

/** The annotations of a ServiceAccount without kubectl's bookkeeping. */
async function annotations(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const all = await env.annotationsOf(namespace, name)
  if (all === undefined) return undefined
  const { [lastApplied]: _applied, ...rest } = all
  return rest
}

function associationOf(namespace: string, name: string) {
  return env.emulator.associations().find((a) => a.namespace === namespace && a.serviceAccount === name)
}

const guarded = (namespace: string, name: string, role: string, policy: object | string, extra: Record<string, string> = { [ann.disableSessionTags]: 'true' }) =>
  serviceAccount(namespace, name, {
    [ann.roleArn]: role,
    [ann.sessionPolicy]: typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2),
    ...extra,
  })

await env.kubectlOk(['apply', '-f', '-'], [namespaceObject('team-a'), namespaceObject('team-b'), namespaceObject('sandbox')].map((o) => JSON.stringify(o)).join('\n---\n'))

// Written the way people write policies: indented, keys in any order, a duplicate action.
const readOrders = {
  Statement: [{ Resource: 'arn:aws:s3:::shop-data/orders/*', Action: ['s3:GetObject', 's3:getobject', 's3:GetObject'], Effect: 'Allow' }],
  Version: '2012-10-17',
}
const readOrdersNormalized = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shop-data/orders/*"}]}'

t.test('scenario 1: a valid guarded ServiceAccount is created, normalized, and gets its association', async (t) => {
  env.emulator.resetCalls()
  const applied = await env.apply(guarded('team-a', 'orders', s3Reader, readOrders))
  t.same(applied, { code: 0, stdout: 'serviceaccount/orders created\n', stderr: '' }, 'kubectl prints the plain success line, no warning')

  const stored = await annotations('team-a', 'orders')
  t.equal(stored?.[ann.normalizedPolicy], readOrdersNormalized, 'the mutating webhook wrote the normalized policy')
  t.equal(stored?.[ann.sessionPolicy], JSON.stringify(readOrders, null, 2), 'the session policy is kept as written')

  const association = await until(() => associationOf('team-a', 'orders'), 'the association in EKS')
  t.same(
    { roleArn: association.roleArn, policy: association.policy, disableSessionTags: association.disableSessionTags, tags: association.tags, ownerArn: association.ownerArn },
    { roleArn: s3Reader, policy: readOrdersNormalized, disableSessionTags: true, tags: { [`${prefix}/installation`]: installationId, [`${prefix}/cluster`]: clusterName }, ownerArn: undefined },
    'EKS holds the normalized policy with session tags disabled, tagged as this installation',
  )
  const withId = await until(async () => {
    const current = await annotations('team-a', 'orders')
    return current?.[ann.associationId] ? current : undefined
  }, 'the association-id annotation')
  t.same(
    withId,
    {
      [ann.roleArn]: s3Reader,
      [ann.sessionPolicy]: JSON.stringify(readOrders, null, 2),
      [ann.disableSessionTags]: 'true',
      [ann.normalizedPolicy]: readOrdersNormalized,
      [ann.associationId]: association.associationId,
    },
    'the ServiceAccount names its association',
  )
  t.same(
    await env.eventsOf('team-a', 'orders'),
    [`Normal Synced Created EKS Pod Identity association ${association.associationId} for role ${s3Reader}, a ${readOrdersNormalized.length}-character session policy.`],
    'kubectl get events shows what the sync did',
  )
  t.equal(env.emulator.calls().CreatePodIdentityAssociation, 1, 'one create call')
})

// --- scenario 2 ---------------------------------------------------------------------------------

const writeEverything = doc(statement(['s3:GetObject', 's3:PutObject', 'sqs:SendMessage'], '*'))
const outsideActionDenial =
  'Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.session-guard.dev" denied the request: ' +
  'session-guard: ServiceAccount team-a/uploader has 1 violation:\n' +
  `[ACTION_OUTSIDE_BASE_ROLE] ${prefix}/session-policy: the session policy allows 2 actions the base role does not: ` +
  's3:PutObject, sqs:SendMessage are not in the role. ' +
  'A session policy can only narrow the role: remove them, or use a role that allows them\n'

t.test('scenario 2: an action outside the base role is rejected with the code, the actions and the fix', async (t) => {
  const sa = guarded('team-a', 'uploader', s3Reader, writeEverything)
  t.same(await env.apply(sa), { code: 1, stdout: '', stderr: outsideActionDenial }, 'kubectl apply prints the denial')
  t.same(await env.apply(sa, ['--dry-run=server']), { code: 1, stdout: '', stderr: outsideActionDenial }, '--dry-run=server gives the same answer')
  t.equal(await annotations('team-a', 'uploader'), undefined, 'no ServiceAccount was created')
  t.equal(associationOf('team-a', 'uploader'), undefined, 'no association was created')
})

t.test('scenario 2: session tags left on are rejected, together with every other violation', async (t) => {
  const tagsOn = guarded('team-a', 'tagged', s3Reader, readOrders, {})
  const tagsOnDenial =
    'Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.session-guard.dev" denied the request: ' +
    'session-guard: ServiceAccount team-a/tagged has 1 violation:\n' +
    `[SESSION_TAGS_ENABLED] ${prefix}/disable-session-tags must be "true" when ${prefix}/session-policy is set (it is not set): ` +
    'EKS refuses a session policy while session tags are enabled\n'
  t.same(await env.apply(tagsOn), { code: 1, stdout: '', stderr: tagsOnDenial })
  t.same(await env.apply(tagsOn, ['--dry-run=server']), { code: 1, stdout: '', stderr: tagsOnDenial }, '--dry-run=server: same answer')

  const both = guarded('team-a', 'tagged', s3Reader, writeEverything, { [ann.disableSessionTags]: 'false' })
  t.same(await env.apply(both), {
    code: 1,
    stdout: '',
    stderr:
      'Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.session-guard.dev" denied the request: ' +
      'session-guard: ServiceAccount team-a/tagged has 2 violations:\n' +
      `[SESSION_TAGS_ENABLED] ${prefix}/disable-session-tags must be "true" when ${prefix}/session-policy is set (it is "false"): ` +
      'EKS refuses a session policy while session tags are enabled\n' +
      `[ACTION_OUTSIDE_BASE_ROLE] ${prefix}/session-policy: the session policy allows 2 actions the base role does not: ` +
      's3:PutObject, sqs:SendMessage are not in the role. ' +
      'A session policy can only narrow the role: remove them, or use a role that allows them\n',
  }, 'every violation at once')
  t.equal(await annotations('team-a', 'tagged'), undefined, 'nothing was created')
})

t.test('scenario 2: --dry-run=server of a valid ServiceAccount answers created and creates nothing', async (t) => {
  env.emulator.resetCalls()
  t.same(await env.apply(guarded('team-a', 'preview', s3Reader, readOrders), ['--dry-run=server']), {
    code: 0,
    stdout: 'serviceaccount/preview created (server dry run)\n',
    stderr: '',
  })
  t.equal(await annotations('team-a', 'preview'), undefined, 'no ServiceAccount exists')
  t.equal(env.emulator.writeCalls(), 0, 'the sync wrote nothing to EKS')
})

t.test('scenario 2: a warning-only ServiceAccount is admitted and kubectl shows Warning: lines', async (t) => {
  const policy = doc(statement(['s3:GetObject'], ['arn:aws:s3:::shop-data/*', 'arn:aws:s3:::archive/*']))
  const expectedWarnings =
    'Warning: RESOURCE_OUTSIDE_BASE_ROLE: statement 1: the base role never allows its actions on arn:aws:s3:::archive/*, so it grants nothing there\n' +
    'Warning: SESSION_TAG_CONDITION_DISABLED: base role policy 1, statement 2 uses aws:PrincipalTag/kubernetes-namespace: ' +
    'EKS does not set that tag with session tags disabled, so the statement stops matching\n'
  const preview = await env.apply(guarded('team-a', 'archive-reader', taggedReader, policy), ['--dry-run=server'])
  t.same(preview, { code: 0, stdout: 'serviceaccount/archive-reader created (server dry run)\n', stderr: expectedWarnings }, 'the dry run warns too')
  const applied = await env.apply(guarded('team-a', 'archive-reader', taggedReader, policy))
  t.same(applied, { code: 0, stdout: 'serviceaccount/archive-reader created\n', stderr: expectedWarnings })
  await until(() => associationOf('team-a', 'archive-reader'), 'its association')
})

// --- scenario 3 ---------------------------------------------------------------------------------

t.test('scenario 3: editing the policy updates the association in place', async (t) => {
  const before = await until(() => associationOf('team-a', 'orders'), 'the orders association')
  env.emulator.resetCalls()
  const widened = doc(statement(['s3:GetObject', 's3:ListBucket'], ['arn:aws:s3:::shop-data', 'arn:aws:s3:::shop-data/orders/*']))
  const widenedNormalized =
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::shop-data","arn:aws:s3:::shop-data/orders/*"]}]}'
  t.same(await env.apply(guarded('team-a', 'orders', s3Reader, widened)), { code: 0, stdout: 'serviceaccount/orders configured\n', stderr: '' })
  t.equal((await annotations('team-a', 'orders'))?.[ann.normalizedPolicy], widenedNormalized, 'the normalized annotation follows the edit')

  const after = await until(() => {
    const current = associationOf('team-a', 'orders')
    return current?.policy === widenedNormalized ? current : undefined
  }, 'the association to carry the new policy')
  t.equal(after.associationId, before.associationId, 'the same association, updated')
  const calls = env.emulator.calls()
  t.same(
    [calls.CreatePodIdentityAssociation, calls.UpdatePodIdentityAssociation, calls.DeletePodIdentityAssociation],
    [0, 1, 0],
    'one update, no create or delete',
  )
  const events = await until(async () => {
    const all = await env.eventsOf('team-a', 'orders')
    return all.length >= 3 ? all : undefined
  }, 'the update events')
  t.same(events.slice(1).sort(), [
    `Normal RestartRequired Running pods keep the credentials they already have (the EKS Pod Identity agent caches them for up to 6 hours) until they restart; restart the workloads that use this ServiceAccount (kubectl rollout restart) to apply the change now.`,
    `Normal Synced Updated EKS Pod Identity association ${before.associationId} (policy) for role ${s3Reader}, a ${widenedNormalized.length}-character session policy.`,
  ])
})

t.test('scenario 3: removing the annotations deletes the owned association and its annotation', async (t) => {
  env.emulator.resetCalls()
  const result = await env.kubectl(['annotate', 'serviceaccount', 'orders', '--namespace', 'team-a', `${ann.roleArn}-`, `${ann.sessionPolicy}-`, `${ann.disableSessionTags}-`])
  t.same(result, { code: 0, stdout: 'serviceaccount/orders annotated\n', stderr: '' })
  await until(() => associationOf('team-a', 'orders') === undefined, 'the association to be deleted')
  t.equal(env.emulator.calls().DeletePodIdentityAssociation, 1, 'one delete call')
  const remaining = await until(async () => {
    const current = await annotations('team-a', 'orders')
    return current && !(ann.associationId in current) ? current : undefined
  }, 'the association-id annotation to go')
  const { [ann.normalizedPolicy]: staleNormalized, ...others } = remaining
  t.same(others, {}, 'the inputs and the association-id are gone')
  t.equal(staleNormalized, undefined, 'no stale normalized-policy is left behind')
})

t.test('scenario 3: deleting the ServiceAccount deletes its owned association', async (t) => {
  await until(() => associationOf('team-a', 'archive-reader'), 'the archive-reader association')
  env.emulator.resetCalls()
  t.same(await env.kubectl(['delete', 'serviceaccount', 'archive-reader', '--namespace', 'team-a']), {
    code: 0,
    stdout: 'serviceaccount "archive-reader" deleted from team-a namespace\n',
    stderr: '',
  })
  await until(() => associationOf('team-a', 'archive-reader') === undefined, 'the association to be deleted')
  t.equal(env.emulator.calls().DeletePodIdentityAssociation, 1, 'one delete call')
})

t.test('scenario 3: an add-on-owned association is never touched', async (t) => {
  const addonSa = guarded('team-a', 'ebs-csi', s3Reader, readOrders)
  t.same(await env.apply(addonSa), { code: 0, stdout: 'serviceaccount/ebs-csi created\n', stderr: '' }, 'the ServiceAccount itself is admitted')
  const events = await until(async () => {
    const all = await env.eventsOf('team-a', 'ebs-csi')
    return all.length > 0 ? all : undefined
  }, 'the Conflict event')
  t.same(events, [
    `Warning Conflict The EKS Pod Identity association ${addonAssociation.associationId} for this ServiceAccount is managed by the EKS add-on ` +
      `${addonAssociation.ownerArn}; session-guard never changes add-on associations. It is left untouched, so the session-guard annotations are not applied.`,
  ])
  t.notOk(ann.associationId in ((await annotations('team-a', 'ebs-csi')) ?? {}), 'no association-id is claimed')

  t.same(await env.kubectl(['delete', 'serviceaccount', 'ebs-csi', '--namespace', 'team-a']), {
    code: 0,
    stdout: 'serviceaccount "ebs-csi" deleted from team-a namespace\n',
    stderr: '',
  })
  // A full pass is the sync's most thorough look at EKS: run one now by restarting the process.
  await sync.stop()
  const restarted = await env.startSync('sync-0-restarted')
  await until(() => restarted.logs.some((l) => l.msg === 'full pass done'), 'a full pass')
  t.same(env.emulator.associations().find((a) => a.associationId === addonAssociation.associationId), addonAssociation, 'byte for byte as seeded')
})

// --- scenario 4 ---------------------------------------------------------------------------------

t.test('scenario 4: a base role changed in IAM is used once the cache TTL has passed', async (t) => {
  const consume = (actions: string[]) => guarded('team-b', 'order-consumer', queueWorker, doc(statement(actions, 'arn:aws:sqs:eu-west-1:123456789012:orders')))
  const askedAt = Date.now()
  t.same(await env.apply(consume(['sqs:ReceiveMessage', 'sqs:DeleteMessage'])), {
    code: 1,
    stdout: '',
    stderr:
      'Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.session-guard.dev" denied the request: ' +
      'session-guard: ServiceAccount team-b/order-consumer has 1 violation:\n' +
      `[ACTION_OUTSIDE_BASE_ROLE] ${prefix}/session-policy: the session policy allows 1 action the base role does not: ` +
      'sqs:DeleteMessage is not in the role. A session policy can only narrow the role: remove it, or use a role that allows it\n',
  }, 'denied against the role as IAM has it')

  await env.iam.send(new PutRolePolicyCommand({
    RoleName: 'e2e-queue-worker',
    PolicyName: 'consume',
    PolicyDocument: JSON.stringify(doc(statement(['sqs:ReceiveMessage', 'sqs:DeleteMessage'], 'arn:aws:sqs:eu-west-1:123456789012:orders'))),
  }))
  // cacheTtlSeconds is 2 (test/support/e2e-env.ts): poll with dry runs until the new policy is read.
  const admitted = await until(async () => (await env.apply(consume(['sqs:ReceiveMessage', 'sqs:DeleteMessage']), ['--dry-run=server'])).code === 0, 'the new role policy to be used', 15_000, 250)
  t.ok(admitted)
  t.ok(Date.now() - askedAt >= 2_000, 'not before the TTL of the cached role ran out')
  t.same(await env.apply(consume(['sqs:ReceiveMessage', 'sqs:DeleteMessage'])), { code: 0, stdout: 'serviceaccount/order-consumer created\n', stderr: '' })
  const association = await until(() => associationOf('team-b', 'order-consumer'), 'its association')
  t.equal(association.roleArn, queueWorker, 'the sync, which judges again with its own cache, created it')
})

// --- scenario 5 ---------------------------------------------------------------------------------

t.test('scenario 5: a namespace without a grant cannot use a role', async (t) => {
  const sa = guarded('sandbox', 'orders', s3Reader, readOrders)
  const denial =
    'Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.session-guard.dev" denied the request: ' +
    'session-guard: ServiceAccount sandbox/orders has 1 violation:\n' +
    `[ROLE_NOT_ALLOWED] ${prefix}/role-arn: namespace sandbox may not use ${s3Reader} (guardrails.allowedRoles grants it no such role); ` +
    'pick a role granted to sandbox or ask the cluster admins\n'
  t.same(await env.apply(sa), { code: 1, stdout: '', stderr: denial })
  t.same(await env.apply(sa, ['--dry-run=server']), { code: 1, stdout: '', stderr: denial }, '--dry-run=server: same answer')
  t.equal(await annotations('sandbox', 'orders'), undefined, 'nothing was created')
  t.same(await env.apply(guarded('team-b', 'orders', s3Reader, readOrders)), { code: 0, stdout: 'serviceaccount/orders created\n', stderr: '' }, 'a granted namespace may')
})
