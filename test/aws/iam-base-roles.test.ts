import t from 'tap'
import { createServer, type Socket } from 'node:net'
import {
  AttachRolePolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam'
import { BaseRoleUnavailableError } from '../../src/aws/base-role-source.js'
import { IamBaseRoles } from '../../src/aws/iam-base-roles.js'
import { createIamClient } from '../../src/aws/iam-client.js'
import { startIamPagingProxy } from '../support/iam-paging-proxy.js'
import { iamClientFor, startMoto } from '../support/moto.js'

const account = '123456789012'
const trust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
})
const allow = (action: string, resource = '*') =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] })

// Characters that IAM's URL-encoding changes: space, %, +, &, /, non-ASCII, and a pretty-printed layout.
const inlineReports = JSON.stringify(
  { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/Q1 100%+&é/*' }] },
  null,
  2,
)
const inlineQueue = allow('sqs:ReceiveMessage', `arn:aws:sqs:us-east-1:${account}:jobs`)
const managedLogs = allow('logs:PutLogEvents')
const managedTableV1 = allow('dynamodb:DeleteTable')
const managedTableV2 = allow('dynamodb:GetItem')
const managedMetricsV1 = allow('cloudwatch:GetMetricData')
const managedMetricsV2 = allow('cloudwatch:*')
const boundary = allow('s3:*')

const moto = await startMoto()
t.teardown(() => moto.stop())
const proxy = await startIamPagingProxy(moto.endpoint)
t.teardown(() => proxy.stop())
const seed = iamClientFor(moto.endpoint)
const viaProxy = iamClientFor(proxy.endpoint)

const appReaderArn = `arn:aws:iam::${account}:role/team/app-reader`
const plainArn = `arn:aws:iam::${account}:role/plain`

await seedRoles(seed)

/** IAM requests the source made, as `Action Marker`, after the seeding. */
function listCalls(action: string): (string | undefined)[] {
  return proxy.requests.filter((request) => request.action === action).map((request) => request.params.Marker)
}

t.test('reads inline, attached (default versions) and boundary documents of a role with a path', async (t) => {
  proxy.requests.length = 0
  const documents = await new IamBaseRoles(viaProxy).get(appReaderArn)
  t.strictSame(documents, {
    roleArn: appReaderArn,
    policies: [inlineReports, inlineQueue, managedLogs, managedMetricsV1, managedTableV2],
    permissionsBoundary: boundary,
  }, 'inline first, then attached in IAM order (moto: by name); the default version of each managed policy')
  t.same(listCalls('ListRolePolicies'), [undefined], 'one page without a page size')
  t.equal(proxy.requests.find((request) => request.action === 'ListRolePolicies')?.params.MaxItems, undefined,
    'leaves the page size to IAM')
  t.same(proxy.requests.filter((request) => request.action === 'GetRole').map((request) => request.params.RoleName),
    ['app-reader'], 'asks GetRole for the name, without the path')
})

t.test('reads every page when IAM pages the lists', async (t) => {
  proxy.requests.length = 0
  const documents = await new IamBaseRoles(viaProxy, { pageSize: 1, concurrency: 2 }).get(appReaderArn)
  t.strictSame(documents.policies, [inlineReports, inlineQueue, managedLogs, managedMetricsV1, managedTableV2],
    'the same documents as with one page')
  t.same(listCalls('ListRolePolicies'), [undefined, '1'], 'two pages of inline policy names')
  // moto marks a full last page as truncated, so a fourth, empty page ends the list.
  t.same(listCalls('ListAttachedRolePolicies'), [undefined, '1', '2', '3'], 'every page of attached policies')
  t.same(proxy.requests.filter((request) => request.action.startsWith('List')).map((request) => request.params.MaxItems),
    ['1', '1', '1', '1', '1', '1'], 'every list request carries the page size')
  t.same(proxy.requests.filter((request) => request.action === 'GetPolicyVersion')
    .map((request) => `${request.params.PolicyArn} ${request.params.VersionId}`).sort(), [
    `arn:aws:iam::${account}:policy/boundary v1`,
    `arn:aws:iam::${account}:policy/logs-writer v1`,
    `arn:aws:iam::${account}:policy/metrics-reader v1`,
    `arn:aws:iam::${account}:policy/table-reader v2`,
  ], 'reads only the default version of each managed policy')
})

t.test('a role without policies or boundary has neither', async (t) => {
  t.strictSame(await new IamBaseRoles(viaProxy).get(plainArn), { roleArn: plainArn, policies: [] },
    'no permissionsBoundary key')
})

t.test('fails closed with a reason the developer can act on', async (t) => {
  const source = new IamBaseRoles(viaProxy)
  const cases: [string, string, string | undefined][] = [
    [`arn:aws:iam::${account}:role/ghost`, 'role ghost does not exist in IAM', 'NoSuchEntityException'],
    [`arn:aws:iam::${account}:role/app-reader`,
      `IAM knows role app-reader as ${appReaderArn}; correct the ARN`, undefined],
    ['arn:aws:iam::111122223333:role/plain',
      `the role is in account 111122223333, but the IAM credentials are for account ${account}`, undefined],
    ['arn:aws:iam::123456789012:user/plain', 'it is not an IAM role ARN', undefined],
  ]
  for (const [roleArn, reason, causeName] of cases) {
    const error = await source.get(roleArn).then(() => undefined, (error: unknown) => error)
    t.type(error, BaseRoleUnavailableError, `${roleArn} is unavailable`)
    const unavailable = error as BaseRoleUnavailableError
    t.equal(unavailable.message, `the policies of ${roleArn} cannot be read: ${reason}`, `names why for ${roleArn}`)
    t.equal(unavailable.roleArn, roleArn, 'carries the role ARN')
    t.equal((unavailable.cause as Error | undefined)?.name, causeName, 'keeps the IAM error as the cause')
  }
})

t.test('names the IAM permission the webhook lacks, and stops reading', async (t) => {
  const withoutGetRolePolicy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['iam:GetRole', 'iam:List*', 'iam:GetPolicy', 'iam:GetPolicyVersion'], Resource: '*' }],
  })
  await seed.send(new CreateUserCommand({ UserName: 'webhook' }))
  await seed.send(new PutUserPolicyCommand({ UserName: 'webhook', PolicyName: 'reader', PolicyDocument: withoutGetRolePolicy }))
  const { AccessKey: key } = await seed.send(new CreateAccessKeyCommand({ UserName: 'webhook' }))
  const limited = new IAMClient({
    region: 'us-east-1',
    endpoint: proxy.endpoint,
    credentials: { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' },
    maxAttempts: 1,
  })
  await moto.enforceAuth(true)
  t.teardown(() => moto.enforceAuth(false))
  proxy.requests.length = 0
  const error = await new IamBaseRoles(limited, { concurrency: 1 }).get(appReaderArn).then(() => undefined, (error: unknown) => error)
  t.type(error, BaseRoleUnavailableError, 'unavailable')
  t.equal((error as Error).message, `the policies of ${appReaderArn} cannot be read: ` +
    'IAM denied GetRolePolicy on inline policy reports of role app-reader (User: arn:aws:iam::123456789012:user/webhook ' +
    "is not authorized to perform: iam:GetRolePolicy); allow iam:GetRolePolicy to the webhook's IAM role",
  'names the denied call, the policy and the permission')
  t.equal(((error as Error).cause as Error).name, 'AccessDenied', 'keeps the IAM error as the cause')
  t.equal(proxy.requests.filter((request) => request.action === 'GetRolePolicy').length, 1,
    'reads no further inline policy after the failure')
})

t.test('IAM that does not answer makes the role unavailable', async (t) => {
  const gone = await startMoto()
  await gone.stop()
  const port = new URL(gone.endpoint).port
  const error = await new IamBaseRoles(iamClientFor(gone.endpoint)).get(plainArn).then(() => undefined, (error: unknown) => error)
  t.type(error, BaseRoleUnavailableError, 'unavailable')
  t.equal((error as Error).message,
    `the policies of ${plainArn} cannot be read: IAM did not answer GetRole on role plain: connect ECONNREFUSED 127.0.0.1:${port}`,
    'says IAM did not answer, and why')
})

t.test('IAM that accepts connections but never answers hits the lookup deadline', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => void sockets.add(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const address = silent.address() as { port: number }
  const started = Date.now()
  const error = await new IamBaseRoles(iamClientFor(`http://127.0.0.1:${address.port}`), { timeoutMs: 300 })
    .get(plainArn).then(() => undefined, (error: unknown) => error)
  t.type(error, BaseRoleUnavailableError, 'unavailable')
  t.equal((error as Error).message,
    `the policies of ${plainArn} cannot be read: IAM did not answer GetRole on role plain within 300 ms`, 'names the deadline')
  t.ok(Date.now() - started < 2_000, 'gives up at the deadline, not at the SDK timeouts')
})

t.test('createIamClient uses the SDK chain with the endpoint override', async (t) => {
  const saved = { ...process.env }
  t.teardown(() => {
    process.env = saved
  })
  process.env.AWS_ACCESS_KEY_ID = 'testing'
  process.env.AWS_SECRET_ACCESS_KEY = 'testing'
  const client = createIamClient({ region: 'us-east-1', endpoint: moto.endpoint })
  t.equal(await client.config.region(), 'us-east-1', 'region from the settings')
  t.strictSame(await new IamBaseRoles(client).get(plainArn), { roleArn: plainArn, policies: [] }, 'reads moto')
})

async function seedRoles(iam: IAMClient): Promise<void> {
  await iam.send(new CreateRoleCommand({ RoleName: 'app-reader', Path: '/team/', AssumeRolePolicyDocument: trust }))
  await iam.send(new CreateRoleCommand({ RoleName: 'plain', AssumeRolePolicyDocument: trust }))
  await iam.send(new PutRolePolicyCommand({ RoleName: 'app-reader', PolicyName: 'reports', PolicyDocument: inlineReports }))
  await iam.send(new PutRolePolicyCommand({ RoleName: 'app-reader', PolicyName: 'queue', PolicyDocument: inlineQueue }))
  const policyArn = async (name: string, document: string) =>
    (await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: document }))).Policy?.Arn ?? ''
  const logs = await policyArn('logs-writer', managedLogs)
  const table = await policyArn('table-reader', managedTableV1)
  await iam.send(new CreatePolicyVersionCommand({ PolicyArn: table, PolicyDocument: managedTableV2, SetAsDefault: true }))
  const metrics = await policyArn('metrics-reader', managedMetricsV1)
  await iam.send(new CreatePolicyVersionCommand({ PolicyArn: metrics, PolicyDocument: managedMetricsV2, SetAsDefault: false }))
  for (const arn of [logs, table, metrics]) {
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'app-reader', PolicyArn: arn }))
  }
  const boundaryArn = await policyArn('boundary', boundary)
  await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'app-reader', PermissionsBoundary: boundaryArn }))
}
