import t from 'tap'
import { BaseRoleUnavailableError } from '../../src/aws/base-role-source.js'
import { StaticBaseRoles } from '../../src/aws/static-base-roles.js'

const reader = 'arn:aws:iam::123456789012:role/team/reader'
const writer = 'arn:aws:iam::123456789012:role/writer'
const readPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' }] }
const writePolicyText = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]\n}'
const boundary = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }

const roles = new StaticBaseRoles({
  [reader]: { policies: [readPolicy, writePolicyText], permissionsBoundary: boundary },
  [writer]: { policies: [writePolicyText] },
})

t.test('documents from objects are JSON text; JSON strings stay as written', async (t) => {
  t.strictSame(await roles.get(reader), {
    roleArn: reader,
    policies: [
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}',
      writePolicyText,
    ],
    permissionsBoundary: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
  }, 'policies and boundary')
  t.strictSame(await roles.get(writer), { roleArn: writer, policies: [writePolicyText] }, 'no boundary key without one')
})

t.test('every get of a role returns the same frozen answer', async (t) => {
  const first = await roles.get(reader)
  t.equal(await roles.get(reader), first, 'same object')
  t.ok(Object.isFrozen(first) && Object.isFrozen(first.policies), 'frozen, so no caller can change it for the others')
})

t.test('a role missing from the config is unavailable', async (t) => {
  const missing = 'arn:aws:iam::123456789012:role/reader'
  const error = await roles.get(missing).then(() => undefined, (error: unknown) => error)
  t.type(error, BaseRoleUnavailableError, 'unavailable')
  t.equal((error as Error).message,
    `the policies of ${missing} cannot be read: role ${missing} is not listed in baseRoles.static`, 'says where to add it')
  t.equal((error as BaseRoleUnavailableError).roleArn, missing, 'carries the role ARN')
})

t.test('a document that is not JSON stops construction, naming it', async (t) => {
  t.throws(() => new StaticBaseRoles({ [writer]: { policies: [readPolicy], permissionsBoundary: 'Version: 2012-10-17' } }), {
    message: `baseRoles.static["${writer}"].permissionsBoundary is not a JSON policy document: ` +
      `Unexpected token 'V', "Version: 2012-10-17" is not valid JSON`,
  }, 'names the boundary')
  t.throws(() => new StaticBaseRoles({ [writer]: { policies: [readPolicy, '{'] } }), {
    message: /^baseRoles\.static\["arn:aws:iam::123456789012:role\/writer"\]\.policies\[1\] is not a JSON policy document: /,
  }, 'names the policy by index')
})
