import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { validate } from '../../src/admission/review.js'
import { serviceAccountsIn } from '../../src/cli/manifests.js'
import { loadConfig } from '../../src/config/load.js'
import { createRuntime } from '../../src/runtime.js'
import { runCli } from '../support/cli.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const exampleConfig = 'examples/config.yaml'
const dir = mkdtempSync(join(tmpdir(), 'sg-review-'))
const file = (name: string, content: string) => {
  const path = join(dir, name)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content)
  return path
}
const review = (...args: string[]) => runCli(['review', ...args], { cwd: root })

const appData = 'arn:aws:iam::111122223333:role/app-data'
const readOnly = 'arn:aws:iam::111122223333:role/read-only'
const ordersPolicy = '{"Version":"2012-10-17","Statement":[{"Sid":"ReadOrders","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::acme-team-orders","arn:aws:s3:::acme-team-orders/*"]},{"Sid":"OrdersQueue","Effect":"Allow","Action":["sqs:DeleteMessage","sqs:GetQueueUrl","sqs:ReceiveMessage"],"Resource":"arn:aws:sqs:eu-west-1:111122223333:acme-orders"}]}'
const getObject = (bucket: string) => `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${bucket}/*"}]}`
const tagWarning = {
  code: 'SESSION_TAG_CONDITION_DISABLED',
  message: 'base role policy 1, statement "OwnPrefix" uses aws:PrincipalTag/kubernetes-namespace: EKS does not set that tag with session tags disabled, so the statement stops matching',
  details: { statement: 'policy 1, statement "OwnPrefix"', tags: ['aws:PrincipalTag/kubernetes-namespace'] },
}
const roleNotAllowed = (namespace: string, role: string) => ({
  code: 'ROLE_NOT_ALLOWED',
  message: `session-guard.dev/role-arn: namespace ${namespace} may not use ${role} (guardrails.allowedRoles grants it no such role); pick a role granted to ${namespace} or ask the cluster admins`,
})

/** The example manifests, in the order a folder walk finds them (files sorted by name). */
const examples = [
  { namespace: 'team-orders', name: 'orders-reader', allowed: true, violations: [], warnings: [], normalizedPolicy: ordersPolicy },
  { namespace: 'team-orders', name: 'builder', allowed: true, violations: [], warnings: [], normalizedPolicy: null },
  { namespace: 'sandbox', name: 'scratch', allowed: false, violations: [roleNotAllowed('sandbox', appData)], warnings: [], normalizedPolicy: getObject('acme-team-sandbox') },
  {
    namespace: 'team-reports',
    name: 'report-writer',
    allowed: false,
    violations: [{
      code: 'ACTION_OUTSIDE_BASE_ROLE',
      message: 'session-guard.dev/session-policy: the session policy allows 2 actions the base role does not: dynamodb:PutItem, sqs:SendMessage are not in the role. A session policy can only narrow the role: remove them, or use a role that allows them',
      actions: ['dynamodb:PutItem', 'sqs:SendMessage'],
    }],
    warnings: [tagWarning],
    normalizedPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","sqs:SendMessage"],"Resource":"*"}]}',
  },
  {
    namespace: 'team-billing',
    name: 'invoice-reader',
    allowed: false,
    violations: [{
      code: 'SESSION_TAGS_ENABLED',
      message: 'session-guard.dev/disable-session-tags must be "true" when session-guard.dev/session-policy is set (it is not set): EKS refuses a session policy while session tags are enabled',
    }],
    warnings: [],
    normalizedPolicy: getObject('acme-team-billing'),
  },
]

const allowGetObject = (bucket: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: `arn:aws:s3:::${bucket}/*` }] })
const serviceAccount = (namespace: string | undefined, name: string, annotations?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name, ...(namespace ? { namespace } : {}), ...(annotations ? { annotations } : {}) },
})
const guarded = (role: string, policy = getObject('acme-team-x')) => ({
  'session-guard.dev/role-arn': role,
  'session-guard.dev/disable-session-tags': 'true',
  'session-guard.dev/session-policy': policy,
})

t.test('judges every example manifest of a folder, with exit 1 when any is denied', async (t) => {
  const result = await review('--config', exampleConfig, '--json', 'examples/manifests')
  t.equal(result.stderr, '')
  t.equal(result.code, 1)
  t.same(JSON.parse(result.stdout), examples)
})

t.test('each example manifest on its own: the good one exits 0, each bad one exits 1', async (t) => {
  const expected: Record<string, [number, string[]]> = {
    'good.yaml': [0, ['orders-reader', 'builder']],
    'namespace-denied.yaml': [1, ['scratch']],
    'outside-action.yaml': [1, ['report-writer']],
    'session-tags.yaml': [1, ['invoice-reader']],
  }
  for (const [name, [code, accounts]] of Object.entries(expected)) {
    const result = await review('--config', exampleConfig, '--json', `examples/manifests/${name}`)
    t.equal(result.code, code, `${name} exits ${code}`)
    t.same(JSON.parse(result.stdout).map((r: { name: string }) => r.name), accounts, `${name} holds ${accounts.join(', ')}`)
  }
})

t.test('judges as the webhook judges a CREATE', async (t) => {
  const runtime = await createRuntime(await loadConfig(join(root, exampleConfig)))
  const result = await review('--config', exampleConfig, '--json', 'examples/manifests')
  const cli = JSON.parse(result.stdout) as Array<{ namespace: string; name: string; allowed: boolean; violations: Array<{ code: string }> }>
  const manifests = ['good', 'namespace-denied', 'outside-action', 'session-tags']
    .flatMap((name) => serviceAccountsIn(readFileSync(join(root, `examples/manifests/${name}.yaml`), 'utf8'), name))
  t.equal(manifests.length, cli.length)
  for (const [i, sa] of manifests.entries()) {
    const { response } = await validate({
      uid: `uid-${i}`,
      kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
      operation: 'CREATE',
      namespace: sa.namespace,
      name: sa.name,
      object: serviceAccount(sa.namespace, sa.name, sa.annotations),
    }, runtime)
    t.equal(cli[i]?.allowed, response.allowed, `${sa.namespace}/${sa.name}: the same decision`)
    const codes = cli[i]?.violations.map((v) => v.code).join(',')
    t.equal(response.auditAnnotations?.violations, codes === '' ? undefined : codes, `${sa.namespace}/${sa.name}: the same codes`)
  }
})

t.test('prints one block per ServiceAccount for people', async (t) => {
  const good = await review('--config', exampleConfig, 'examples/manifests/good.yaml')
  t.same(good, {
    code: 0,
    stderr: '',
    stdout: [
      '✓ team-orders/orders-reader  (examples/manifests/good.yaml)',
      '',
      '✓ team-orders/builder  (examples/manifests/good.yaml)',
      '',
      '2 ServiceAccounts: 2 admitted, 0 denied',
      '',
    ].join('\n'),
  })
  const outside = await review('--config', exampleConfig, 'examples/manifests/outside-action.yaml', 'examples/manifests/session-tags.yaml')
  t.equal(outside.code, 1)
  t.equal(outside.stdout, [
    '✗ team-reports/report-writer  (examples/manifests/outside-action.yaml)',
    '    ✗ ACTION_OUTSIDE_BASE_ROLE  (2 actions)',
    '        session-guard.dev/session-policy: the session policy allows 2 actions the base role does',
    '        not: dynamodb:PutItem, sqs:SendMessage are not in the role. A session policy can only narrow',
    '        the role: remove them, or use a role that allows them',
    '',
    '    ! warning SESSION_TAG_CONDITION_DISABLED',
    '        base role policy 1, statement "OwnPrefix" uses aws:PrincipalTag/kubernetes-namespace: EKS',
    '        does not set that tag with session tags disabled, so the statement stops matching',
    '',
    '✗ team-billing/invoice-reader  (examples/manifests/session-tags.yaml)',
    '    ✗ SESSION_TAGS_ENABLED',
    '        session-guard.dev/disable-session-tags must be "true" when session-guard.dev/session-policy',
    '        is set (it is not set): EKS refuses a session policy while session tags are enabled',
    '',
    '2 ServiceAccounts: 0 admitted, 2 denied',
    '',
  ].join('\n'))
})

t.test('reads multi-document YAML, List items, JSON files and nested folders; ignores other objects', async (t) => {
  const tree = join(dir, 'tree')
  file('tree/a-multi.yml', [
    '# a comment-only document first',
    '---',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: team-a}',
    '---',
    JSON.stringify(serviceAccount(undefined, 'no-namespace')),
    '---',
    '',
  ].join('\n'))
  file('tree/b-list.yaml', JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      serviceAccount('team-a', 'listed', guarded(appData)),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
      { apiVersion: 'v1', kind: 'ServiceAccountList', items: [serviceAccount('team-b', 'nested-list', guarded(readOnly))] },
    ],
  }))
  file('tree/deeper/c.json', JSON.stringify(serviceAccount('default', 'from-json', guarded(appData))))
  file('tree/deeper/notes.txt', 'kind: ServiceAccount\n')
  file('tree/deeper/other-group.yaml', 'apiVersion: example.com/v1\nkind: ServiceAccount\nmetadata: {name: custom}\n')
  const result = await review('--config', exampleConfig, '--json', tree)
  t.equal(result.stderr, '')
  t.equal(result.code, 1)
  t.same(JSON.parse(result.stdout), [
    { namespace: 'default', name: 'no-namespace', allowed: true, violations: [], warnings: [], normalizedPolicy: null },
    { namespace: 'team-a', name: 'listed', allowed: true, violations: [], warnings: [], normalizedPolicy: getObject('acme-team-x') },
    { namespace: 'team-b', name: 'nested-list', allowed: true, violations: [], warnings: [tagWarning], normalizedPolicy: getObject('acme-team-x') },
    { namespace: 'default', name: 'from-json', allowed: false, violations: [roleNotAllowed('default', appData)], warnings: [], normalizedPolicy: getObject('acme-team-x') },
  ])
})

t.test('judges what /validate sees after /mutate: a stale normalized policy in a manifest is no denial', async (t) => {
  const normalized = 'session-guard.dev/normalized-policy'
  const policy = JSON.stringify(allowGetObject('acme-team-x'), null, 2)
  const manifest = file('exported.yaml', [
    serviceAccount('team-a', 'stale', { ...guarded(appData, policy), [normalized]: getObject('acme-team-old') }),
    serviceAccount('team-a', 'current', { ...guarded(appData, policy), [normalized]: getObject('acme-team-x') }),
    serviceAccount('team-a', 'orphan', { 'session-guard.dev/role-arn': appData, [normalized]: getObject('acme-team-x') }),
  ].map((object) => JSON.stringify(object)).join('\n---\n'))
  const result = await review('--config', exampleConfig, '--json', manifest)
  t.equal(result.code, 0)
  t.same(JSON.parse(result.stdout), [
    { namespace: 'team-a', name: 'stale', allowed: true, violations: [], warnings: [], normalizedPolicy: getObject('acme-team-x') },
    { namespace: 'team-a', name: 'current', allowed: true, violations: [], warnings: [], normalizedPolicy: getObject('acme-team-x') },
    { namespace: 'team-a', name: 'orphan', allowed: true, violations: [], warnings: [], normalizedPolicy: null },
  ])
})

t.test('in mode: warn every ServiceAccount is admitted and the violations still listed', async (t) => {
  const config = file('warn.yaml', readFileSync(join(root, exampleConfig), 'utf8').replace('mode: enforce', 'mode: warn'))
  const json = await review('--config', config, '--json', 'examples/manifests/namespace-denied.yaml')
  t.equal(json.code, 0)
  t.same(JSON.parse(json.stdout), [{ ...examples[2], allowed: true }])
  const human = await review('--config', config, 'examples/manifests/namespace-denied.yaml')
  t.equal(human.code, 0)
  t.equal(human.stdout.split('\n')[0], '✓ sandbox/scratch  (examples/manifests/namespace-denied.yaml, admitted only because mode is warn)')
})

t.test('no ServiceAccounts at all is success', async (t) => {
  const empty = file('empty/only-a-configmap.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n')
  t.same(await review('--config', exampleConfig, '--json', empty), { code: 0, stdout: '[]\n', stderr: '' })
  t.same(await review('--config', exampleConfig, dirname(empty)), { code: 0, stdout: 'no ServiceAccounts found\n', stderr: '' })
})

t.test('unreadable input, invalid manifests and bad usage exit 2 with one line, no stack trace', async (t) => {
  const cases: Array<[string[], string]> = [
    [[join(dir, 'nope.yaml')], `cannot read ${join(dir, 'nope.yaml')}: no such file or directory`],
    [[file('broken.yaml', 'kind: ServiceAccount\nmetadata: [\n')], `${join(dir, 'broken.yaml')} is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1`],
    [[file('duplicate.yaml', 'kind: List\nkind: List\n')], `${join(dir, 'duplicate.yaml')} is not valid YAML: Map keys must be unique at line 2, column 1`],
    [[file('broken.json', '{"kind": "ServiceAccount",')], `${join(dir, 'broken.json')} is not valid JSON: Expected double-quoted property name in JSON at position 26 (line 1 column 27)`],
    [
      [file('unquoted.yaml', 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  namespace: team-a\n  annotations:\n    session-guard.dev/disable-session-tags: true\n')],
      `${join(dir, 'unquoted.yaml')}: ServiceAccount team-a/sa: annotation session-guard.dev/disable-session-tags must be a string, not the boolean true (quote it in YAML)`,
    ],
    [
      [file('multi-bad.yaml', '---\nkind: ConfigMap\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  annotations: [a]\n')],
      `${join(dir, 'multi-bad.yaml')} (document 2): ServiceAccount default/sa: metadata.annotations must be a map of strings`,
    ],
  ]
  for (const [paths, message] of cases) {
    // A good manifest first: nothing is printed for it when a later file is broken.
    t.same(await review('--config', exampleConfig, '--json', 'examples/manifests/good.yaml', ...paths), { code: 2, stdout: '', stderr: `session-guard: ${message}\n` }, message)
  }
  const noConfig = await review('examples/manifests')
  t.equal(noConfig.code, 2)
  t.match(noConfig.stderr, /^session-guard: review needs --config FILE\n\nusage: session-guard <command>/)
  const noPaths = await review('--config', exampleConfig)
  t.equal(noPaths.code, 2)
  t.match(noPaths.stderr, /^session-guard: review needs at least one manifest file or folder\n\nusage:/)
  const unknownOption = await review('--config', exampleConfig, '--yaml', 'examples/manifests')
  t.same([unknownOption.code, unknownOption.stdout], [2, ''])
  // node:util's own wording follows the option's name; it differs between Node.js releases.
  t.match(unknownOption.stderr, /^session-guard: Unknown option '--yaml'\.[^\n]*\n$/, 'one line naming the option')
})

t.test('an invalid config exits 2 naming the wrong key', async (t) => {
  const typo = file('typo.yaml', readFileSync(join(root, exampleConfig), 'utf8').replace('guardrails:', 'guardrail:'))
  t.same(await review('--config', typo, 'examples/manifests'), {
    code: 2,
    stdout: '',
    stderr: `session-guard: ${typo} is not a valid session-guard config: unknown key guardrail\n`,
  })
  const missing = join(dir, 'no-config.yaml')
  t.same(await review('--config', missing, 'examples/manifests'), {
    code: 2,
    stdout: '',
    stderr: `session-guard: cannot read the config file ${missing}: no such file or directory\n`,
  })
})
