import fc from 'fast-check'
import t from 'tap'
import { PolicyEngine } from '../../src/policy/engine.js'
import { normalizePolicy } from '../../src/policy/normalize.js'
import { parsePolicy } from '../../src/policy/parse.js'
import { requestedActions } from '../../src/policy/session-actions.js'
import { testCatalog } from '../support/catalog.js'

const catalog = await testCatalog()

const normalize = (text: string) => {
  const parsed = parsePolicy(text)
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems))
  return normalizePolicy(parsed.policy)
}

t.test('writes canonical compact JSON', async (t) => {
  const text = `{
    "Statement": {
      "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::a", "arn:aws:s3:::b/*"],
      "Condition": {"StringLike": {"s3:prefix": ["b/*", "a/*", "a/*"], "aws:Ref": "x"}, "Bool": {"aws:SecureTransport": "true"}},
      "Action": ["S3:GetObject", "s3:ListBucket", "s3:getobject"],
      "Effect": "Allow",
      "Sid": "Read"
    },
    "Version": "2012-10-17"
  }`
  t.equal(normalize(text),
    '{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["S3:GetObject","s3:ListBucket"],' +
    '"Resource":["arn:aws:s3:::a","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"true"},' +
    '"StringLike":{"aws:Ref":"x","s3:prefix":["a/*","b/*"]}}}]}')
})

t.test('writes one-element lists as scalars and keeps statement order', async (t) => {
  t.equal(normalize('{"Statement":[{"Effect":"Deny","NotAction":["iam:*"],"NotResource":["*"]},{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}'),
    '{"Statement":[{"Effect":"Deny","NotAction":"iam:*","NotResource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}')
})

// A generator of valid policies over a small action vocabulary, with duplicates, case changes,
// wildcards and every list/scalar form, to show what normalization keeps.
const actionPattern = fc.constantFrom('s3:GetObject', 's3:getobject', 'S3:Get*', 's3:*', 'sqs:SendMessage', 'ec2:Describe*', 'iam:Pass?ole', 'dynamodb:Query', '*')
const resource = fc.constantFrom('*', 'arn:aws:s3:::b', 'arn:aws:s3:::b/*', 'arn:aws:sqs:eu-west-1:1:q')
const listOrOne = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.array(arb, { minLength: 1, maxLength: 5 }))
const statement = fc.record({
  Effect: fc.constantFrom('Allow', 'Deny'),
  actions: fc.tuple(fc.boolean(), listOrOne(actionPattern)),
  Resource: listOrOne(resource),
}).map(({ Effect, actions: [not, list], Resource }) => ({ Effect, [not ? 'NotAction' : 'Action']: list, Resource }))
const policyText = fc.tuple(fc.constantFrom(undefined, '2012-10-17'), fc.oneof(statement, fc.array(statement, { minLength: 1, maxLength: 4 })), fc.nat(4))
  .map(([Version, Statement, indent]) => JSON.stringify(Version ? { Statement, Version } : { Statement }, null, indent))

t.test('normalization is idempotent and never changes the actions a policy allows', async (t) => {
  fc.assert(fc.property(policyText, (text) => {
    const once = normalize(text)
    const twice = normalize(once)
    const before = parsePolicy(text)
    const after = parsePolicy(once)
    if (!before.ok || !after.ok) return false
    const same = requestedActions(catalog, before.policy).words.every((w, i) => w === requestedActions(catalog, after.policy).words[i])
    return once === twice && same
  }), { numRuns: 500 })
  t.pass('500 generated policies')
})

t.test('a normalized policy is judged exactly like its source', async (t) => {
  const engine = new PolicyEngine(catalog)
  const base = engine.baseRole({ policies: ['{"Statement":{"Effect":"Allow","Action":["s3:Get*","sqs:*"],"Resource":"*"}}'] })
  fc.assert(fc.property(policyText, (text) => {
    const source = engine.check(text, base)
    const normalized = engine.check(source.normalizedPolicy as string, base)
    const judgment = (check: typeof source) => JSON.stringify(check.violations.map((v) => [v.code, v.actions]))
    return judgment(source) === judgment(normalized) && source.normalizedPolicy === normalized.normalizedPolicy
  }), { numRuns: 200 })
  t.pass('200 generated policies')
})
