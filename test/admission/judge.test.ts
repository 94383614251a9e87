import t from 'tap'
import { createJudge } from '../../src/admission/judge.js'
import { BaseRoleUnavailableError, type BaseRoleSource } from '../../src/aws/base-role-source.js'
import { PolicyEngine } from '../../src/policy/engine.js'
import { testCatalog } from '../support/catalog.js'
import { a, APP_ROLE, baseConfig, policy, staticRoles, TAGGED_ROLE, TARGET_ROLE, type JudgeConfig } from './harness.js'

const engine = new PolicyEngine(await testCatalog())
const judgeWith = (config: JudgeConfig = baseConfig, baseRoles: BaseRoleSource = staticRoles) => createJudge({ config, engine, baseRoles })
const judge = judgeWith()
const sa = (annotations: Record<string, string>, namespace = 'team-a') => ({ namespace, name: 'orders', annotations })
const reader = policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::acme/*' })
const normalizedReader = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme/*"}]}'

t.test('an unguarded ServiceAccount is admitted with nothing to say', async (t) => {
  t.same(await judge(sa({ 'eks.amazonaws.com/role-arn': 'x', 'other.dev/session-policy': '{' })), {
    guarded: false, allowed: true, violations: [], warnings: [], normalizedPolicy: null,
  })
})

t.test('a clean guarded ServiceAccount is admitted with its desired association', async (t) => {
  t.same(await judge(sa({ [a('role-arn')]: APP_ROLE, [a('session-policy')]: reader, [a('disable-session-tags')]: 'true' })), {
    guarded: true, allowed: true, violations: [], warnings: [], normalizedPolicy: normalizedReader,
    association: { namespace: 'team-a', serviceAccount: 'orders', roleArn: APP_ROLE, disableSessionTags: true, policy: normalizedReader },
  })
  t.same((await judge(sa({ [a('role-arn')]: APP_ROLE })))?.association, {
    namespace: 'team-a', serviceAccount: 'orders', roleArn: APP_ROLE, disableSessionTags: false,
  }, 'a role alone is a plain association')
})

t.test('lists every violation at once, each naming its annotation', async (t) => {
  const judgment = await judge(sa({
    [a('role-arn')]: APP_ROLE,
    [a('session-policy')]: policy({ Effect: 'Allow', Action: ['s3:GetObject', 'ec2:RunInstances', 's3:GetObjekt'], Resource: '*' }),
    [a('disable-session-tags')]: 'false',
    [a('normalized-policy')]: '{"stale":true}',
  }))
  t.equal(judgment.allowed, false)
  t.equal(judgment.association, undefined)
  t.same(judgment.violations.map((v) => [v.code, v.message]), [
    ['SESSION_TAGS_ENABLED', 'session-guard.dev/disable-session-tags must be "true" when session-guard.dev/session-policy is set (it is "false"): EKS refuses a session policy while session tags are enabled'],
    ['UNKNOWN_ACTION', 'session-guard.dev/session-policy: "s3:GetObjekt" matches no IAM action: check the spelling against the service\'s actions'],
    ['ACTION_OUTSIDE_BASE_ROLE', 'session-guard.dev/session-policy: the session policy allows 1 action the base role does not: ec2:RunInstances is not in the role. A session policy can only narrow the role: remove it, or use a role that allows it'],
    ['NORMALIZED_POLICY_MISMATCH', 'session-guard.dev/normalized-policy is not the normalization of session-guard.dev/session-policy: remove it and the mutating webhook writes the right value'],
  ])
})

t.test('role ARNs: required, well-formed, and granted by the guardrails', async (t) => {
  t.same((await judge(sa({ [a('disable-session-tags')]: 'true' }))).violations.map((v) => v.code), ['INVALID_ROLE_ARN'])
  t.same((await judge(sa({ [a('role-arn')]: 'arn:aws:iam::1111:role/x', [a('target-role-arn')]: 'arn:aws:s3:::bucket' }))).violations.map((v) => v.message), [
    'session-guard.dev/role-arn is "arn:aws:iam::1111:role/x", which is not an IAM role ARN: write arn:aws:iam::ACCOUNT:role/NAME',
    'session-guard.dev/target-role-arn is "arn:aws:s3:::bucket", which is not an IAM role ARN: write arn:aws:iam::ACCOUNT:role/NAME',
  ])
  const denied = await judge(sa({ [a('role-arn')]: APP_ROLE, [a('session-policy')]: reader, [a('disable-session-tags')]: 'true' }, 'payments'))
  t.same(denied.violations, [{
    code: 'ROLE_NOT_ALLOWED',
    message: `session-guard.dev/role-arn: namespace payments may not use ${APP_ROLE} (guardrails.allowedRoles grants it no such role); pick a role granted to payments or ask the cluster admins`,
  }])
  t.equal(denied.normalizedPolicy, normalizedReader, 'the policy is still normalized without its base')
  const noGuardrails = judgeWith({ ...baseConfig, guardrails: {} })
  t.same((await noGuardrails(sa({ [a('role-arn')]: APP_ROLE }, 'payments'))).violations, [], 'without guardrails any role is allowed')
})

t.test('with a target role, the session policy narrows the target role', async (t) => {
  const dynamo = policy({ Effect: 'Allow', Action: 'dynamodb:Query', Resource: '*' })
  const judgment = await judge(sa({ [a('role-arn')]: APP_ROLE, [a('target-role-arn')]: TARGET_ROLE, [a('session-policy')]: dynamo, [a('disable-session-tags')]: 'true' }))
  t.same(judgment.violations, [])
  t.same(judgment.association?.targetRoleArn, TARGET_ROLE)
  const s3 = await judge(sa({ [a('role-arn')]: APP_ROLE, [a('target-role-arn')]: TARGET_ROLE, [a('session-policy')]: reader, [a('disable-session-tags')]: 'true' }))
  t.same(s3.violations.map((v) => v.actions), [['s3:GetObject']], 's3 is in the role but not in the target role')
})

t.test('an unreadable base role fails closed with the cause', async (t) => {
  const broken = judgeWith(baseConfig, { get: async (arn: string) => { throw new BaseRoleUnavailableError(arn, 'IAM did not answer GetRole on role app-data within 3000 ms') } })
  t.same((await broken(sa({ [a('role-arn')]: APP_ROLE, [a('session-policy')]: reader, [a('disable-session-tags')]: 'true' }))).violations, [{
    code: 'BASE_ROLE_UNAVAILABLE',
    message: `the base role ${APP_ROLE} cannot be checked, so the session policy is denied (fail closed): IAM did not answer GetRole on role app-data within 3000 ms. Retry, or ask the cluster admins`,
  }])
  const unlisted = await judge(sa({ [a('role-arn')]: 'arn:aws:iam::111122223333:role/unknown', [a('session-policy')]: reader, [a('disable-session-tags')]: 'true' }))
  t.match(unlisted.violations[0]?.message, /is not listed in baseRoles.static/)
})

t.test('disabled session tags warn about base statements that use them, with or without a policy', async (t) => {
  const withPolicy = await judge(sa({ [a('role-arn')]: TAGGED_ROLE, [a('session-policy')]: reader, [a('disable-session-tags')]: 'true' }))
  t.same(withPolicy.warnings.map((w) => w.code), ['RESOURCE_OUTSIDE_BASE_ROLE', 'SESSION_TAG_CONDITION_DISABLED'])
  const tagsOnly = await judge(sa({ [a('role-arn')]: TAGGED_ROLE, [a('disable-session-tags')]: 'true' }))
  t.same(tagsOnly.warnings.map((w) => w.message), ['base role policy 1, statement "Ns" uses aws:PrincipalTag/kubernetes-namespace: EKS does not set that tag with session tags disabled, so the statement stops matching'])
  t.same((await judge(sa({ [a('role-arn')]: TAGGED_ROLE }))).warnings, [], 'tags on: nothing to warn about')
})

t.test('warn mode admits but still reports the violations', async (t) => {
  const judgment = await judgeWith({ ...baseConfig, mode: 'warn' })(sa({ [a('role-arn')]: APP_ROLE, [a('session-policy')]: reader }))
  t.equal(judgment.allowed, true)
  t.same(judgment.violations.map((v) => v.code), ['SESSION_TAGS_ENABLED'])
  t.equal(judgment.association, undefined, 'nothing to sync while it has violations')
})

t.test('a normalized annotation without a session policy is a mismatch; unknown annotations warn', async (t) => {
  const judgment = await judge(sa({ [a('role-arn')]: APP_ROLE, [a('normalized-policy')]: normalizedReader, [a('sesion-policy')]: reader }))
  t.same(judgment.violations.map((v) => v.code), ['NORMALIZED_POLICY_MISMATCH'])
  t.same(judgment.warnings, [{ code: 'UNKNOWN_ANNOTATION', message: 'session-guard.dev/sesion-policy is not a session-guard annotation and is ignored (known: role-arn, target-role-arn, session-policy, disable-session-tags)' }])
})

t.test('another annotation prefix is honoured', async (t) => {
  const judgment = await judgeWith({ ...baseConfig, annotationPrefix: 'iam.acme.io' })(sa({ 'iam.acme.io/role-arn': APP_ROLE, [a('role-arn')]: 'ignored' }))
  t.same(judgment.association?.roleArn, APP_ROLE)
})
