import t from 'tap'
import { parsePolicy } from '../../src/policy/parse.js'

const problems = (document: unknown) => {
  const result = parsePolicy(typeof document === 'string' ? document : JSON.stringify(document))
  return result.ok ? [] : result.problems
}

t.test('accepts a policy with every element', async (t) => {
  const result = parsePolicy(JSON.stringify({
    Version: '2012-10-17',
    Id: 'x',
    Statement: [
      { Sid: 'A1', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*',
        Condition: { 'ForAnyValue:StringLikeIfExists': { 'aws:TagKeys': ['a*'] }, Null: { 'aws:SourceIp': 'false' }, Bool: { 'aws:SecureTransport': true } } },
      { Effect: 'Deny', NotAction: ['iam:*'], NotResource: ['*'] },
    ],
  }))
  t.equal(result.ok, true)
  if (result.ok) t.same(result.policy.statements.map((s) => s.effect), ['Allow', 'Deny'])
})

t.test('accepts a single statement object and the 2008 version', async (t) => {
  t.same(problems({ Version: '2008-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*' } }), [])
})

t.test('reports every problem at once with JSON paths', async (t) => {
  t.same(problems({
    Version: '2013-01-01',
    Statement: [
      { Effect: 'allow', Action: 's3GetObject', Resource: '*' },
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', NotAction: 's3:PutObject' },
    ],
  }), [
    { path: '$.Version', message: 'must be "2012-10-17" or "2008-10-17"' },
    { path: '$.Statement[0].Effect', message: 'must be "Allow" or "Deny"' },
    { path: '$.Statement[0].Action', message: '"s3GetObject" is not an action: write service:ActionName, for example s3:GetObject' },
    { path: '$.Statement[1]', message: 'Principal is not allowed: a session policy applies to the role\'s session and names no principal' },
    { path: '$.Statement[1]', message: 'a statement takes either Action or NotAction, not both' },
    { path: '$.Statement[1]', message: 'a statement needs Resource (or NotResource)' },
  ])
})

t.test('requires Statement and Effect, and rejects unknown elements', async (t) => {
  t.same(problems({ Version: '2012-10-17', Statements: [] }), [
    { path: '$', message: 'Statement is required' },
    { path: '$', message: '"Statements" is not a policy element here' },
  ])
  t.same(problems({ Statement: [{ Action: 's3:GetObject', Resource: '*' }] }), [
    { path: '$.Statement[0]', message: 'Effect is required' },
  ])
})

t.test('rejects empty lists, wrong types and bad resources', async (t) => {
  t.same(problems({ Statement: [] }), [{ path: '$.Statement', message: 'must not be an empty list' }])
  t.same(problems({ Statement: 'x' }), [{ path: '$.Statement', message: 'must be an object or a list' }])
  t.same(problems({ Statement: [{ Effect: 'Allow', Action: [], Resource: ['s3://bucket'] }] }), [
    { path: '$.Statement[0].Action', message: 'must not be an empty list' },
    { path: '$.Statement[0].Resource[0]', message: '"s3://bucket" is not a resource: write "*" or an ARN (arn:partition:service:region:account:resource)' },
  ])
})

t.test('checks condition operators and values', async (t) => {
  t.same(problems({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Condition: {
    StringEqualz: { 'aws:x': 'y' }, NullIfExists: { 'aws:y': 'true' }, StringLike: {}, Bool: { 'aws:z': { nested: true } },
  } }] }), [
    { path: '$.Statement[0].Condition.StringEqualz', message: '"StringEqualz" is not a condition operator' },
    { path: '$.Statement[0].Condition.NullIfExists', message: '"NullIfExists" is not a condition operator' },
    { path: '$.Statement[0].Condition.StringLike', message: 'must name at least one condition key' },
    { path: '$.Statement[0].Condition.Bool["aws:z"]', message: 'must be a string or a number or true or false or a list' },
  ])
})

t.test('requires unique, alphanumeric Sids', async (t) => {
  t.same(problems({ Statement: [
    { Sid: 'Read', Effect: 'Allow', Action: '*', Resource: '*' },
    { Sid: 'Read', Effect: 'Allow', Action: '*', Resource: '*' },
    { Sid: 'Read-2', Effect: 'Allow', Action: '*', Resource: '*' },
  ] }), [
    { path: '$.Statement[2].Sid', message: '"Read-2" is not a valid Sid: use letters and digits only' },
    { path: '$.Statement[1].Sid', message: 'the Sid "Read" is already used by $.Statement[0]; Sids must be unique' },
  ])
})

t.test('reports JSON syntax errors with line and column', async (t) => {
  t.same(problems('{"Statement": [}'), [
    { path: '$', message: 'not valid JSON: expected a value but found "}"', line: 1, column: 16 },
  ])
  t.same(problems('[1]'), [{ path: '$', message: 'must be an object' }])
})
