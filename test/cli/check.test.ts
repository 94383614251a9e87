import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli } from '../support/cli.js'
import { managedPolicy } from '../support/managed-policies.js'

const dir = mkdtempSync(join(tmpdir(), 'sg-check-'))
const file = (name: string, content: string) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements })
const readOnly = file('ReadOnlyAccess.json', managedPolicy('ReadOnlyAccess'))
const boundary = file('boundary.json', policy({ Effect: 'Allow', Action: 's3:*', Resource: '*' }))
const reader = file('reader.json', JSON.stringify({ Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObject'], Resource: 'arn:aws:s3:::b/*' }], Version: '2012-10-17' }, null, 2))
const writer = file('writer.json', policy({ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 'sqs:SendMessage', 's3:GetObjekt'], Resource: '*' }))
const everything = file('everything.json', policy({ Effect: 'Allow', Action: '*', Resource: '*' }))

t.test('admits with exit 0 and prints the JSON contract', async (t) => {
  const result = await runCli(['check', '--base-policy', readOnly, '--session-policy', reader, '--json'])
  t.equal(result.code, 0)
  t.equal(result.stderr, '')
  t.same(JSON.parse(result.stdout), {
    allowed: true,
    normalizedPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}',
    violations: [],
    warnings: [],
  })
})

t.test('denies with exit 1, every violation at once, and the actions listed', async (t) => {
  const result = await runCli(['check', '--base-policy', readOnly, '--permissions-boundary', boundary, '--session-policy', writer, '--json'])
  t.equal(result.code, 1)
  const json = JSON.parse(result.stdout)
  t.equal(json.allowed, false)
  t.same(json.violations.map((v: { code: string; actions: string[] }) => [v.code, v.actions]), [
    ['UNKNOWN_ACTION', ['s3:GetObjekt']],
    ['ACTION_OUTSIDE_BASE_ROLE', ['s3:PutObject', 'sqs:SendMessage']],
  ])
})

t.test('prints a terminal report: one block per violation, the fix stated', async (t) => {
  const result = await runCli(['check', '--base-policy', readOnly, '--session-policy', writer])
  t.equal(result.code, 1)
  t.equal(result.stdout, [
    'denied: 2 violations',
    '',
    '✗ UNKNOWN_ACTION  (1 action)',
    '    "s3:GetObjekt" matches no IAM action: check the spelling against the service\'s actions',
    '',
    '✗ ACTION_OUTSIDE_BASE_ROLE  (2 actions)',
    '    the session policy allows 2 actions the base role does not: s3:PutObject, sqs:SendMessage are',
    '    not in the role. A session policy can only narrow the role: remove them, or use a role that',
    '    allows them',
    '',
    'normalized policy (146 characters):',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:GetObjekt","s3:PutObject","sqs:SendMessage"],"Resource":"*"}]}',
    '',
  ].join('\n'))
})

t.test('large JSON output reaches the pipe whole', async (t) => {
  const result = await runCli(['check', '--base-policy', readOnly, '--session-policy', everything, '--json'])
  t.equal(result.code, 1)
  const json = JSON.parse(result.stdout)
  t.ok(result.stdout.length > 100_000, `${result.stdout.length} bytes`)
  t.ok(json.violations[0].actions.length > 10_000, 'every outside action is listed')
})

t.test('bad usage and unreadable input exit 2 with one line, no stack trace', async (t) => {
  const missing = await runCli(['check', '--base-policy', join(dir, 'nope.json'), '--session-policy', reader])
  t.same(missing, { code: 2, stdout: '', stderr: `session-guard: cannot read --base-policy ${join(dir, 'nope.json')}: no such file or directory\n` })
  const invalid = await runCli(['check', '--base-policy', file('bad.json', '{"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}'), '--session-policy', reader])
  t.same(invalid, { code: 2, stdout: '', stderr: 'session-guard: bad.json is not a valid policy: $.Statement[0]: a statement needs Resource (or NotResource)\n' })
  const noSession = await runCli(['check', '--base-policy', readOnly])
  t.equal(noSession.code, 2)
  t.match(noSession.stderr, /^session-guard: check needs --session-policy FILE\n\nusage: session-guard <command>/)
  const unknown = await runCli(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /^session-guard: unknown command "frobnicate"/)
  const option = await runCli(['check', '--bogus'])
  t.equal(option.code, 2)
  t.match(option.stderr, /^session-guard: Unknown option '--bogus'/)
  t.notMatch(option.stderr, /\n\s+at /, 'no stack trace')
})

t.test('an invalid session policy is a denial (exit 1), not an input error', async (t) => {
  const result = await runCli(['check', '--base-policy', readOnly, '--session-policy', file('broken.json', '{"Statement": [\n  {"Effect": "Allow",}\n]}'), '--json'])
  t.equal(result.code, 1)
  t.same(JSON.parse(result.stdout).violations[0].details.problems, [
    { path: '$', message: 'not valid JSON: a trailing comma is not allowed before "}"', line: 2, column: 22 },
  ])
})
