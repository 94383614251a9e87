/**
 * fast-check arbitraries of session-policy texts for the webhook fuzz: mostly policy-shaped documents
 * (real and wildcard actions, NotAction/NotResource mixes, conditions, a Principal now and then),
 * written in any formatting, then sometimes damaged: truncated, a duplicated key, a stray character,
 * nested thousands deep, a huge string, or replaced by any JSON value or any text.
 */
import fc from 'fast-check'

/** `arbitrary` with probability `present`, otherwise undefined (the key is then left out). */
export function sometimes<T>(arbitrary: fc.Arbitrary<T>, present: number): fc.Arbitrary<T | undefined> {
  const weight = Math.round(present * 100)
  return fc.oneof({ weight: 100 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary })
}

/** Drops the keys whose value is undefined (JSON.stringify would too, but tests compare objects). */
export function defined<T extends object>(record: T): Partial<T> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value
  return out as Partial<T>
}

const knownActions = [
  's3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', 's3:GetBucketLocation', 's3:Get*', 's3:List*',
  's3:*', '*', 'S3:getobject', 's3:Get?bject', 's3:DeleteBucket', 's3:DeleteBucketPolicy', 'sqs:SendMessage',
  'sqs:ReceiveMessage', 'sqs:*Message', 'sqs:Get*', 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem',
  'iam:CreateUser', 'ec2:*', 'kms:Decrypt', 'foo:Bar', 's3:NoSuchAction', 's3:', 's3', '*:*', 'ś3:GetObject', '',
]
const knownResources = [
  '*', 'arn:aws:s3:::acme-team-a/*', 'arn:aws:s3:::acme-team-*', 'arn:aws:s3:::acme-team-a',
  'arn:aws:sqs:eu-west-1:111122223333:acme-orders', 'arn:aws:sqs:*:*:*', 'arn:aws:s3:::other-bucket/*',
  'arn:aws:s3:::acme-shared/${aws:PrincipalTag/kubernetes-namespace}/*', 'arn:aws:dynamodb:eu-west-1:111122223333:table/t',
  'arn:aws:s3:::ünïcödé/*', 'arn:aws:s3:::emoji-😀/*', '',
]
const conditions: unknown[] = [
  { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } },
  { StringLike: { 's3:prefix': ['home/*', 'shared/*', 'home/*'] } },
  { Bool: { 'aws:SecureTransport': 'true' } },
  { StringEquals: { 'aws:PrincipalTag/kubernetes-namespace': 'team-a' } },
  { NumericLessThan: { 's3:max-keys': 10 } },
  { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a', 'b'] } },
  {},
]

const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength })
const wrongType: fc.Arbitrary<unknown> = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant({}), fc.constant([[]]))
const pick = <T>(values: T[], other: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: other })
const stringOrList = (item: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 6, arbitrary: item }, { weight: 6, arbitrary: fc.array(item, { maxLength: 6 }) }, { weight: 1, arbitrary: wrongType })

const action = pick(knownActions, text(24))
const resource = pick(knownResources, text(40))

const statement = fc
  .record({
    Sid: sometimes(fc.oneof(fc.constantFrom('Read', '', 'with space', 'Ωmega'), text(12)), 0.3),
    Effect: sometimes(fc.oneof({ weight: 10, arbitrary: fc.constant<unknown>('Allow') }, { weight: 3, arbitrary: fc.constant('Deny') }, { weight: 1, arbitrary: fc.constantFrom('allow', 'Maybe', 1, null) }), 0.96),
    Action: sometimes(stringOrList(action), 0.8),
    NotAction: sometimes(stringOrList(action), 0.2),
    Resource: sometimes(stringOrList(resource), 0.85),
    NotResource: sometimes(stringOrList(resource), 0.12),
    Condition: sometimes(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...conditions) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }), 0.2),
    Principal: sometimes(fc.constantFrom<unknown>('*', { AWS: 'arn:aws:iam::111122223333:root' }), 0.04),
    NotPrincipal: sometimes(fc.constant({ AWS: '*' }), 0.01),
    Unexpected: sometimes(fc.jsonValue({ maxDepth: 1 }), 0.02),
  })
  .map(defined)

const policyDocument = fc
  .record({
    Version: sometimes(fc.oneof({ weight: 12, arbitrary: fc.constant<unknown>('2012-10-17') }, { weight: 1, arbitrary: fc.constantFrom('2008-10-17', 'latest', 2012) }), 0.9),
    Id: sometimes(text(10), 0.04),
    Statement: fc.oneof({ weight: 3, arbitrary: statement as fc.Arbitrary<unknown> }, { weight: 7, arbitrary: fc.array(statement, { maxLength: 4 }) }, { weight: 1, arbitrary: wrongType }),
    Extra: sometimes(fc.jsonValue({ maxDepth: 1 }), 0.02),
  })
  .map(defined)

/** A policy with one string long enough to pass the 2,048-character limit, or the body limit's share of it. */
const hugePolicy = fc.oneof({ weight: 20, arbitrary: fc.constantFrom(1_000, 2_100, 20_000) }, { weight: 1, arbitrary: fc.constant(300_000) }).map((length) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::acme-team-a/${'x'.repeat(length)}` }] }),
)

const nestedPolicy = fc.constantFrom(5, 63, 64, 65, 1_000, 30_000).map((depth) => `{"Version":"2012-10-17","Statement":${'['.repeat(depth)}${']'.repeat(depth)}}`)

const written = fc.tuple(policyDocument, fc.constantFrom<undefined | number | string>(undefined, undefined, 2, '\t', 4)).map(([document, indent]) => JSON.stringify(document, null, indent))

type Damage = (policy: string) => string
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 70, arbitrary: fc.constant((policy: string) => policy) },
  { weight: 4, arbitrary: fc.nat().map((at) => (policy: string) => policy.slice(0, at % (policy.length + 1))) },
  { weight: 4, arbitrary: fc.tuple(fc.nat(), text(3)).map(([at, inserted]) => (policy: string) => { const i = at % (policy.length + 1); return policy.slice(0, i) + inserted + policy.slice(i) }) },
  { weight: 4, arbitrary: fc.constantFrom('"Effect"', '"Version"', '"Action"').map((key) => (policy: string) => duplicateKey(policy, key)) },
  { weight: 2, arbitrary: fc.constant((policy: string) => ` \n\t${policy}\r\n `) },
)

function duplicateKey(policy: string, key: string): string {
  const at = policy.indexOf(`${key}:`)
  return at < 0 ? policy.replace('{', `{${key}:"Allow",`) : `${policy.slice(0, at)}${key}:"Allow",${policy.slice(at)}`
}

/** The text of a session-policy annotation. */
export const sessionPolicyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 180, arbitrary: fc.tuple(written, damage).map(([policy, harm]) => harm(policy)) },
  { weight: 2, arbitrary: hugePolicy },
  { weight: 4, arbitrary: nestedPolicy },
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 4, arbitrary: fc.oneof(text(60), fc.string({ unit: 'grapheme', maxLength: 60 })) },
  { weight: 2, arbitrary: fc.constantFrom('', 'null', '{}', '[]', '{"Statement":[]}', '"policy"') },
)
