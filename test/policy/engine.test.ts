import t from 'tap'
import { BasePolicyError } from '../../src/policy/base-role.js'
import { PolicyEngine } from '../../src/policy/engine.js'
import { allActionNames, testCatalog } from '../support/catalog.js'
import { managedPolicy } from '../support/managed-policies.js'

const engine = new PolicyEngine(await testCatalog())
const all = await allActionNames()
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements })
const allow = (action: string | string[], resource: string | string[] = '*') => ({ Effect: 'Allow', Action: action, Resource: resource })
const matching = (re: RegExp) => all.filter((name) => re.test(name))

const readOnly = engine.baseRole({ policies: [managedPolicy('ReadOnlyAccess')], policyNames: ['ReadOnlyAccess'] })
const powerUser = engine.baseRole({ policies: [managedPolicy('PowerUserAccess')], policyNames: ['PowerUserAccess'] })
const admin = engine.baseRole({ policies: [managedPolicy('AdministratorAccess')], policyNames: ['AdministratorAccess'] })

t.test('ReadOnlyAccess as base: reads pass, writes are listed', async (t) => {
  const ok = engine.check(policy(allow(['s3:GetObject', 'ec2:Describe*', 'dynamodb:Query'], 'arn:aws:s3:::b/*')), readOnly)
  t.same(ok.violations, [])
  t.equal(ok.allowed, true)
  const denied = engine.check(policy(allow(['s3:GetObject', 's3:PutObject', 'ec2:RunInstances'])), readOnly)
  t.same(denied.violations, [{
    code: 'ACTION_OUTSIDE_BASE_ROLE',
    message: 'the session policy allows 2 actions the base role does not: ec2:RunInstances, s3:PutObject are not in the role. ' +
      'A session policy can only narrow the role: remove them, or use a role that allows them',
    actions: ['ec2:RunInstances', 's3:PutObject'],
  }])
})

t.test('a wildcard is reported with every action it brings that the base lacks', async (t) => {
  const result = engine.check(policy(allow('sqs:*')), readOnly)
  const sqs = matching(/^sqs:/)
  const readOnlySqs = engine.baseRole({ policies: [managedPolicy('ReadOnlyAccess')] }).allowed
  const expected = sqs.filter((name) => !readOnlySqs.has(all.indexOf(name)))
  t.same(result.violations[0]?.actions, expected, 'every sqs action ReadOnlyAccess lacks, sorted')
  t.match(result.violations[0]?.message, new RegExp(`sqs:\\* brings ${expected.length} actions the role lacks: ${expected.slice(0, 5).join(', ')}, … and ${expected.length - 5} more`))
})

t.test('PowerUserAccess (NotAction base): everything but IAM, Organizations and Account, plus its exceptions', async (t) => {
  t.equal(engine.check(policy(allow(['ec2:*', 'iam:ListRoles', 'iam:CreateServiceLinkedRole'])), powerUser).allowed, true)
  const result = engine.check(policy(allow('iam:*')), powerUser)
  const expected = matching(/^iam:/).filter((n) => !['iam:CreateServiceLinkedRole', 'iam:DeleteServiceLinkedRole', 'iam:ListRoles'].includes(n))
  t.same(result.violations.map((v) => v.code), ['ACTION_OUTSIDE_BASE_ROLE'])
  t.same(result.violations[0]?.actions, expected)
})

t.test('AdministratorAccess allows every action; a NotAction session policy is requested as a complement', async (t) => {
  t.same(engine.check(policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }), admin).violations, [])
  const result = engine.check(policy({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' }), powerUser)
  t.same(result.violations, [], 'PowerUserAccess\'s own NotAction statement fits inside it')
  const broader = engine.check(policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }), powerUser)
  const expected = matching(/^(organizations|account):/).filter((n) => !['account:GetAccountInformation', 'account:GetGovCloudAccountInformation',
    'account:GetPrimaryEmail', 'account:ListRegions', 'organizations:DescribeEffectivePolicy', 'organizations:DescribeOrganization'].includes(n))
  t.same(broader.violations[0]?.actions, expected)
  t.match(broader.violations[0]?.message, /NotAction iam:\* brings \d+ actions the role lacks/)
})

t.test('Deny statements without a condition on "*" remove actions; others do not', async (t) => {
  const base = engine.baseRole({ policies: [policy(
    allow('s3:*'),
    { Effect: 'Deny', Action: 's3:Delete*', Resource: '*' },
    { Effect: 'Deny', Action: 's3:PutObject', Resource: 'arn:aws:s3:::locked/*' },
    { Effect: 'Deny', Action: 's3:GetObject', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
  )] })
  const result = engine.check(policy(allow(['s3:DeleteObject', 's3:PutObject', 's3:GetObject'])), base)
  t.same(result.violations[0]?.actions, ['s3:DeleteObject'])
})

t.test('a permissions boundary must allow the action too', async (t) => {
  const base = engine.baseRole({
    policies: [managedPolicy('AdministratorAccess')],
    permissionsBoundary: policy(allow(['s3:*', 'sqs:*']), { Effect: 'Deny', Action: 's3:PutBucketPolicy', Resource: '*' }),
  })
  const result = engine.check(policy(allow(['s3:GetObject', 's3:PutBucketPolicy', 'sns:Publish'])), base)
  t.same(result.violations[0]?.actions, ['s3:PutBucketPolicy', 'sns:Publish'])
})

t.test('unknown actions are reported once each, in Action and NotAction alike', async (t) => {
  const result = engine.check(policy(allow(['s3:GetObjekt', 's3:GetObject', 'nosuch:*']), { Effect: 'Allow', NotAction: 's3:Frobnicate', Resource: 'arn:aws:s3:::b' }, allow('s3:GetObjekt')), admin)
  t.same(result.violations, [{
    code: 'UNKNOWN_ACTION',
    message: '"s3:GetObjekt", "nosuch:*", "s3:Frobnicate" match no IAM action: check the spelling against the service\'s actions',
    actions: ['s3:GetObjekt', 'nosuch:*', 's3:Frobnicate'],
  }])
})

t.test('Deny statements of the session policy request nothing', async (t) => {
  const result = engine.check(policy(allow('s3:GetObject'), { Effect: 'Deny', Action: 'iam:*', Resource: '*' }), readOnly)
  t.same(result.violations, [])
})

t.test('an invalid session policy is one INVALID_POLICY listing every problem', async (t) => {
  const result = engine.check('{"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:GetObject"}]}', admin)
  t.same(result, {
    allowed: false,
    normalizedPolicy: null,
    warnings: [],
    violations: [{
      code: 'INVALID_POLICY',
      message: 'the session policy is not a valid IAM policy: $.Statement[0].Effect: must be "Allow" or "Deny"; $.Statement[0]: a statement needs Resource (or NotResource)',
      details: { problems: [
        { path: '$.Statement[0].Effect', message: 'must be "Allow" or "Deny"' },
        { path: '$.Statement[0]', message: 'a statement needs Resource (or NotResource)' },
      ] },
    }],
  })
})

t.test('size and character set are checked on the normalized policy', async (t) => {
  const resources = Array.from({ length: 60 }, (_, i) => `arn:aws:s3:::bucket-number-${i}/*`)
  const big = engine.check(policy(allow('s3:GetObject', resources)), admin)
  t.same(big.violations.map((v) => v.code), ['POLICY_TOO_LARGE'])
  t.equal(big.violations[0]?.details?.length, big.normalizedPolicy?.length)
  t.match(big.violations[0]?.message, /^the normalized session policy is 2,\d{3} characters; EKS accepts at most 2,048/)
  const spaced = JSON.stringify(JSON.parse(policy(allow('s3:GetObject', resources.slice(0, 40)))), null, 8)
  t.ok(spaced.length > 2048, 'the pretty-printed text is over the limit')
  t.same(engine.check(spaced, admin).violations, [], 'but its normalized form is not')
  const unicode = engine.check(policy(allow('s3:GetObject', 'arn:aws:s3:::café—x/*')), admin)
  t.same(unicode.violations, [{
    code: 'POLICY_TOO_LARGE',
    message: 'the session policy contains characters EKS does not accept (only U+0020–U+00FF, tab, LF and CR): U+2014 "—"; replace them',
    details: { characters: ['U+2014 "—"'] },
  }])
})

t.test('warns about session resources the base never covers for those actions', async (t) => {
  const base = engine.baseRole({ policies: [policy(
    allow(['s3:GetObject', 's3:PutObject'], 'arn:aws:s3:::team-*/*'),
    allow('s3:ListBucket', 'arn:aws:s3:::team-*'),
    { Effect: 'Allow', Action: 'sqs:*', NotResource: 'arn:aws:sqs:*:*:admin-*' },
  )] })
  const result = engine.check(policy(
    { Sid: 'Objects', ...allow(['s3:GetObject', 's3:ListBucket'], ['arn:aws:s3:::team-a/*', 'arn:aws:s3:::team-a', 'arn:aws:s3:::other/*']) },
    allow('sqs:SendMessage', ['arn:aws:sqs:eu-west-1:1:admin-x', 'arn:aws:sqs:eu-west-1:1:orders']),
  ), base)
  t.same(result.violations, [])
  t.same(result.warnings, [
    { code: 'RESOURCE_OUTSIDE_BASE_ROLE', message: 'statement "Objects": the base role never allows its actions on arn:aws:s3:::other/*, so it grants nothing there', details: { statement: 0, resource: 'arn:aws:s3:::other/*' } },
    { code: 'RESOURCE_OUTSIDE_BASE_ROLE', message: 'statement 2: the base role never allows its actions on arn:aws:sqs:eu-west-1:1:admin-x, so it grants nothing there', details: { statement: 1, resource: 'arn:aws:sqs:eu-west-1:1:admin-x' } },
  ])
})

t.test('warns about base statements that depend on EKS session tags', async (t) => {
  const base = engine.baseRole({ policies: [policy(
    { Sid: 'Ns', ...allow('s3:GetObject', 'arn:aws:s3:::shared/${aws:PrincipalTag/kubernetes-namespace}/*') },
    { ...allow('sqs:*'), Condition: { StringEquals: { 'aws:RequestTag/EKS-Cluster-Name': 'prod', 'aws:PrincipalTag/team': 'a' } } },
  )], policyNames: ['team-policy'] })
  const result = engine.check(policy(allow('s3:GetObject')), base)
  t.same(result.warnings.map((w) => w.message), [
    'base role team-policy, statement "Ns" uses aws:PrincipalTag/kubernetes-namespace: EKS does not set that tag with session tags disabled, so the statement stops matching',
    'base role team-policy, statement 2 uses aws:RequestTag/EKS-Cluster-Name: EKS does not set that tag with session tags disabled, so the statement stops matching',
  ])
  t.same(engine.check(policy(allow('s3:GetObject')), base, { sessionTagsDisabled: false }).warnings, [], 'none while tags are on')
})

t.test('an invalid base policy is an error naming the policy and the problem', async (t) => {
  t.throws(() => engine.baseRole({ policies: ['{"Statement": [{"Effect": "Allow"}]}'], policyNames: ['broken.json'] }), new BasePolicyError('broken.json', [
    { path: '$.Statement[0]', message: 'a statement needs Action (or NotAction)' },
    { path: '$.Statement[0]', message: 'a statement needs Resource (or NotResource)' },
  ]))
  t.throws(() => engine.baseRole({ policies: ['{"Statement": '] }), { name: 'BasePolicyError', message: 'policy 1 is not a valid policy: line 1, column 15: not valid JSON: expected a value but found the end of the document' })
})

t.test('compiled base roles are reused by content', async (t) => {
  const text = managedPolicy('ReadOnlyAccess')
  t.equal(engine.baseRole({ policies: [text] }), engine.baseRole({ policies: [text] }))
  t.not(engine.baseRole({ policies: [text] }), engine.baseRole({ policies: [text], permissionsBoundary: managedPolicy('AdministratorAccess') }))
})

t.test('remembers judgments by base role, tag setting and text; they cannot be changed', async (t) => {
  const text = policy(allow(['s3:GetObject', 's3:PutObject']))
  const first = engine.check(text, readOnly)
  t.equal(engine.check(text, readOnly), first, 'the same judgment again')
  t.not(engine.check(text, readOnly, { sessionTagsDisabled: false }), first, 'another tag setting is another judgment')
  t.not(engine.check(text, powerUser), first, 'another base role is another judgment')
  t.ok(Object.isFrozen(first) && Object.isFrozen(first.violations[0]?.actions), 'frozen all the way down')
  const forgetful = new PolicyEngine(await testCatalog(), { checksKept: 0 })
  const role = forgetful.baseRole({ policies: [managedPolicy('ReadOnlyAccess')] })
  t.not(forgetful.check(text, role), forgetful.check(text, role), 'checksKept 0 judges every time')
  t.same(forgetful.check(text, role), first, 'to the same result')
})

t.test('remembers judgments up to a weight: distinct large policies do not pile up', async (t) => {
  const local = new PolicyEngine(await testCatalog())
  const sized = (i: number, chars: number) => policy(allow('s3:GetObject', `arn:aws:s3:::b/${i}/${'x'.repeat(chars)}`))
  const huge = sized(0, 400_000)
  t.not(local.check(huge, readOnly), local.check(huge, readOnly), 'a judgment heavier than 64 Ki characters is redone')
  const first = sized(0, 25_000)
  const remembered = local.check(first, readOnly)
  t.equal(local.check(first, readOnly), remembered, 'a 25,000-character policy is remembered')
  for (let i = 1; i <= 400; i++) local.check(sized(i, 25_000), readOnly)
  t.not(local.check(first, readOnly), remembered, '400 more of them (fewer than 2,000, but over 16 Mi characters) push it out')
})
