import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import {
  CreatePodIdentityAssociationCommand,
  type CreatePodIdentityAssociationCommandInput,
  DeletePodIdentityAssociationCommand,
  DescribeClusterCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  TagResourceCommand,
  ListPodIdentityAssociationsCommand,
  paginateListPodIdentityAssociations,
  type PodIdentityAssociationSummary,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks'
import t, { type Test } from 'tap'
import { type EksEmulator, type EksEmulatorOptions, startEksEmulator } from '../support/eks-emulator.js'

const CLUSTER = 'test-cluster'
const ACCOUNT = '111122223333'
const ROLE = `arn:aws:iam::${ACCOUNT}:role/shared-reader`
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/path/to/shared-writer`
const TARGET_ROLE = 'arn:aws:iam::444455556666:role/cross-account'
const POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
const START_MS = 1_767_225_600_000
const ASSOCIATION_ID = /^a-[a-z0-9]{17}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

interface Harness {
  emulator: EksEmulator
  eks: EKSClient
  clock: { ms: number }
}

async function harness(t: Test, options: EksEmulatorOptions = {}, maxAttempts = 1): Promise<Harness> {
  const clock = { ms: START_MS }
  const emulator = await startEksEmulator({ now: () => clock.ms, ...options })
  const eks = new EKSClient({ ...emulator.clientConfig(), maxAttempts })
  t.teardown(async () => {
    eks.destroy()
    await emulator.close()
  })
  return { emulator, eks, clock }
}

function createInput(
  namespace: string,
  serviceAccount: string,
  extra: Partial<CreatePodIdentityAssociationCommandInput> = {},
): CreatePodIdentityAssociationCommandInput {
  return { clusterName: CLUSTER, namespace, serviceAccount, roleArn: ROLE, ...extra }
}

async function create(eks: EKSClient, namespace: string, serviceAccount: string,
  extra: Partial<CreatePodIdentityAssociationCommandInput> = {}) {
  const { association } = await eks.send(new CreatePodIdentityAssociationCommand(createInput(namespace, serviceAccount, extra)))
  if (association?.associationId === undefined) throw new Error('create returned no association')
  return { ...association, associationId: association.associationId }
}

interface Failure {
  name: string
  message: string
  status: number | undefined
}

async function failure(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise
  } catch (error) {
    const { name, message, $metadata } = error as Error & { $metadata?: { httpStatusCode?: number } }
    return { name, message, status: $metadata?.httpStatusCode }
  }
  throw new Error('expected the call to fail')
}

const at = (ms: number): Date => new Date(ms)

function policyOfLength(length: number): string {
  const open = '{"Version":"2012-10-17","Statement":[],"Sid":"'
  return `${open}${'x'.repeat(length - open.length - 2)}"}`
}
const arnOf = (id: string): string => `arn:aws:eks:us-east-1:${ACCOUNT}:podidentityassociation/${CLUSTER}/${id}`

t.test('creates, describes, updates and deletes an association', async (t) => {
  const { eks, emulator, clock } = await harness(t)
  const created = await create(eks, 'payments', 'api', { tags: { team: 'payments' }, disableSessionTags: true, policy: POLICY })
  t.match(created.associationId, ASSOCIATION_ID, 'the id is a- and 17 lowercase alphanumerics')
  const id = created.associationId
  const expected = {
    clusterName: CLUSTER,
    namespace: 'payments',
    serviceAccount: 'api',
    roleArn: ROLE,
    associationArn: arnOf(id),
    associationId: id,
    tags: { team: 'payments' },
    createdAt: at(START_MS),
    modifiedAt: at(START_MS),
    disableSessionTags: true,
    policy: POLICY,
  }
  t.same(created, expected, 'create returns the full association')

  const described = await eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id }))
  t.same(described.association, expected, 'describe returns the same association')

  clock.ms = START_MS + 61_500
  const updated = await eks.send(new UpdatePodIdentityAssociationCommand({
    clusterName: CLUSTER, associationId: id, roleArn: OTHER_ROLE, policy: '', disableSessionTags: false,
  }))
  const { policy: _cleared, ...withoutPolicy } = expected
  t.same(updated.association, {
    ...withoutPolicy, roleArn: OTHER_ROLE, disableSessionTags: false, modifiedAt: at(START_MS + 61_500),
  }, 'update changes the role, clears the policy and re-enables session tags; createdAt stays')

  const deleted = await eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id }))
  t.same(deleted.association, updated.association, 'delete returns the association it removed')
  t.same(emulator.associations(), [], 'nothing is left')
  t.same(await failure(eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id }))),
    { name: 'ResourceNotFoundException', message: `Association not found: ${id}`, status: 404 }, 'a deleted id is not found')
})

t.test('sets, keeps and clears a target role with its external id', async (t) => {
  const { eks } = await harness(t)
  const created = await create(eks, 'etl', 'loader', { targetRoleArn: TARGET_ROLE })
  t.equal(created.targetRoleArn, TARGET_ROLE, 'the target role is stored')
  t.match(created.externalId, UUID, 'an external id comes with the target role')
  const update = (input: { targetRoleArn?: string; roleArn?: string }) => eks.send(new UpdatePodIdentityAssociationCommand({
    clusterName: CLUSTER, associationId: created.associationId, ...input,
  }))
  const roleChanged = await update({ roleArn: OTHER_ROLE })
  t.equal(roleChanged.association?.externalId, created.externalId, 'the external id survives other updates')
  const retargeted = await update({ targetRoleArn: 'arn:aws:iam::777788889999:role/other-target' })
  t.equal(retargeted.association?.targetRoleArn, 'arn:aws:iam::777788889999:role/other-target', 'the target role changes')
  t.equal(retargeted.association?.externalId, created.externalId, 'the external id stays with the association')
  const cleared = await update({ targetRoleArn: '' })
  t.equal(cleared.association?.targetRoleArn, undefined, 'an empty target role removes it')
  t.equal(cleared.association?.externalId, undefined, 'and its external id')
})

t.test('update reads only the modelled members of its body', async (t) => {
  const { eks, emulator } = await harness(t)
  const created = await create(eks, 'web', 'frontend')
  const response = await fetch(`${emulator.endpoint}/clusters/${CLUSTER}/pod-identity-associations/${created.associationId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ namespace: 'other', serviceAccount: 'other', tags: { x: 'y' }, roleArn: OTHER_ROLE }),
  })
  t.equal(response.status, 200, 'the update succeeds')
  const [stored] = emulator.associations()
  t.same({ namespace: stored?.namespace, serviceAccount: stored?.serviceAccount, tags: stored?.tags, roleArn: stored?.roleArn },
    { namespace: 'web', serviceAccount: 'frontend', tags: {}, roleArn: OTHER_ROLE },
    'namespace, service account and tags cannot change through an update')
})

t.test('lists summaries, filtered by namespace and service account', async (t) => {
  const { eks } = await harness(t)
  const a = await create(eks, 'team-a', 'api', { tags: { k: 'v' } })
  const b = await create(eks, 'team-a', 'worker')
  const c = await create(eks, 'team-b', 'api')
  const summary = (x: { associationId: string; namespace?: string; serviceAccount?: string }): PodIdentityAssociationSummary => ({
    clusterName: CLUSTER,
    namespace: x.namespace,
    serviceAccount: x.serviceAccount,
    associationArn: arnOf(x.associationId),
    associationId: x.associationId,
  })
  const list = async (filters: { namespace?: string; serviceAccount?: string }) =>
    (await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, ...filters })))
  const all = await list({})
  t.same(all.associations, [summary(a), summary(b), summary(c)], 'summaries carry no role, tags or timestamps')
  t.equal(all.nextToken, undefined, 'one page has no nextToken')
  t.same((await list({ namespace: 'team-a' })).associations, [summary(a), summary(b)], 'filtered by namespace')
  t.same((await list({ serviceAccount: 'api' })).associations, [summary(a), summary(c)], 'filtered by service account')
  t.same((await list({ namespace: 'team-b', serviceAccount: 'api' })).associations, [summary(c)], 'filtered by both')
  t.same((await list({ namespace: 'nobody' })).associations, [], 'no match is an empty list')
})

t.test('pages through 250 associations with nextToken and maxResults', async (t) => {
  const { eks, emulator } = await harness(t)
  const ids: string[] = []
  for (let batch = 0; batch < 10; batch++) {
    const created = await Promise.all(Array.from({ length: 25 }, (_, i) =>
      create(eks, `ns-${(batch * 25 + i) % 2 === 0 ? 'even' : 'odd'}`, `sa-${batch * 25 + i}`)))
    ids.push(...created.map((association) => association.associationId))
  }
  const createdOrder = emulator.associations().map((association) => association.associationId)
  t.equal(new Set(createdOrder).size, 250, '250 distinct associations')

  const pageSizes: number[] = []
  const listed: string[] = []
  let nextToken: string | undefined
  do {
    const page = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, maxResults: 100, nextToken }))
    pageSizes.push(page.associations?.length ?? 0)
    listed.push(...(page.associations ?? []).map((summary) => summary.associationId ?? ''))
    nextToken = page.nextToken
  } while (nextToken !== undefined)
  t.same(pageSizes, [100, 100, 50], 'pages of maxResults, the last one short')
  t.same(listed, createdOrder, 'every association once, in creation order')
  t.same([...listed].sort(), [...ids].sort(), 'exactly the created ones')

  const firstDefault = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER }))
  t.equal(firstDefault.associations?.length, 100, 'without maxResults a page holds 100')
  t.type(firstDefault.nextToken, 'string', 'and says there is more')

  const paginated: string[] = []
  let pages = 0
  for await (const page of paginateListPodIdentityAssociations({ client: eks, pageSize: 7 }, { clusterName: CLUSTER, namespace: 'ns-even' })) {
    pages++
    paginated.push(...(page.associations ?? []).map((summary) => summary.associationId ?? ''))
  }
  t.equal(pages, 18, '125 even associations in pages of 7 take 18 pages')
  t.same(paginated, emulator.associations().filter((a) => a.namespace === 'ns-even').map((a) => a.associationId),
    'the SDK paginator sees every filtered association')

  const first = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, maxResults: 10 }))
  const nextAfterDelete = createdOrder[10] ?? ''
  await eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: createdOrder[9] ?? '' }))
  await eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: nextAfterDelete }))
  const second = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, maxResults: 2, nextToken: first.nextToken }))
  t.same(second.associations?.map((summary) => summary.associationId), [createdOrder[11], createdOrder[12]],
    'deletes between pages make no page skip an association')
})

t.test('rejects maxResults outside 1-100 and a forged nextToken', async (t) => {
  const { eks } = await harness(t)
  const list = (input: { maxResults?: number; nextToken?: string; clusterName?: string }) =>
    failure(eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, ...input })))
  t.same(await list({ maxResults: 0 }),
    { name: 'InvalidParameterException', message: 'maxResults must be between 1 and 100, got 0.', status: 400 }, 'zero')
  t.same(await list({ maxResults: 101 }),
    { name: 'InvalidParameterException', message: 'maxResults must be between 1 and 100, got 101.', status: 400 }, '101')
  t.same(await list({ nextToken: 'not-a-token' }),
    { name: 'InvalidParameterException', message: 'The nextToken is not valid.', status: 400 }, 'a forged token')
  t.same(await list({ clusterName: 'elsewhere' }),
    { name: 'ResourceNotFoundException', message: 'No cluster found for name: elsewhere.', status: 404 }, 'an unknown cluster')
})

t.test('validates creates as EKS does', async (t) => {
  const { eks, emulator } = await harness(t)
  const existing = await create(eks, 'shop', 'cart')
  const attempt = (input: CreatePodIdentityAssociationCommandInput) => failure(eks.send(new CreatePodIdentityAssociationCommand(input)))

  t.same(await attempt(createInput('shop', 'cart', { clusterName: 'missing' })),
    { name: 'ResourceNotFoundException', message: 'No cluster found for name: missing.', status: 404 }, 'an unknown cluster')
  t.same(await attempt(createInput('shop', 'cart', { roleArn: OTHER_ROLE })),
    { name: 'ResourceInUseException', message: `Association already exists: ${existing.associationId}`, status: 409 },
    'a second association for the same service account names the existing one')
  t.same(await attempt(createInput('shop', 'checkout', { policy: POLICY })),
    { name: 'InvalidParameterException', message: 'A policy can only be set when disableSessionTags is true.', status: 400 },
    'a policy with session tags enabled')
  t.same(await attempt(createInput('shop', 'checkout', { policy: POLICY, disableSessionTags: false })),
    { name: 'InvalidParameterException', message: 'A policy can only be set when disableSessionTags is true.', status: 400 },
    'a policy with disableSessionTags false')
  const longPolicy = policyOfLength(2049)
  t.equal(longPolicy.length, 2049, 'the long policy is one character over')
  t.same(await attempt(createInput('shop', 'checkout', { policy: longPolicy, disableSessionTags: true })),
    { name: 'InvalidParameterException', message: 'The policy is 2049 characters long; the maximum is 2048.', status: 400 },
    'a policy over 2048 characters')
  const maxPolicy = policyOfLength(2048)
  t.equal(maxPolicy.length, 2048, 'a policy of exactly 2048 characters')
  const accepted = await create(eks, 'shop', 'max', { policy: maxPolicy, disableSessionTags: true })
  t.equal(accepted.policy, maxPolicy, 'is accepted')
  t.same(await attempt(createInput('shop', 'checkout', { policy: '{"Version":', disableSessionTags: true })),
    { name: 'InvalidParameterException', message: 'The policy is not valid JSON.', status: 400 }, 'a policy that is not JSON')
  t.same(await attempt(createInput('shop', 'checkout', { policy: '{"Sid":"✓"}', disableSessionTags: true })),
    { name: 'InvalidParameterException',
      message: 'The policy contains characters outside U+0020-U+00FF, tab, line feed and carriage return.', status: 400 },
    'a policy with characters STS refuses')
  for (const roleArn of ['arn:aws:iam::111122223333:user/someone', 'arn:aws:iam::1111:role/short-account', 'shared-reader']) {
    t.same(await attempt(createInput('shop', 'checkout', { roleArn })),
      { name: 'InvalidParameterException', message: `roleArn is not a valid IAM role ARN: ${roleArn}`, status: 400 },
      `roleArn ${roleArn}`)
  }
  t.same(await attempt(createInput('shop', 'checkout', { targetRoleArn: 'arn:aws:s3:::bucket' })),
    { name: 'InvalidParameterException', message: 'targetRoleArn is not a valid IAM role ARN: arn:aws:s3:::bucket', status: 400 },
    'a target role that is not a role')
  t.same(await attempt(createInput('', 'checkout')),
    { name: 'InvalidParameterException', message: 'namespace is required.', status: 400 }, 'an empty namespace')
  t.same(await attempt(createInput('shop', 'checkout', { tags: { 'aws:reserved': 'x' } })),
    { name: 'InvalidParameterException', message: 'The tag aws:reserved is not valid.', status: 400 }, 'a reserved tag key')
  t.same(emulator.associations().map((a) => a.serviceAccount), ['cart', 'max'], 'no rejected create left anything behind')
})

t.test('validates updates, describes and deletes as EKS does', async (t) => {
  const { eks } = await harness(t)
  const created = await create(eks, 'shop', 'cart', { disableSessionTags: true, policy: POLICY })
  const id = created.associationId
  const update = (input: Record<string, unknown>) => failure(eks.send(new UpdatePodIdentityAssociationCommand({
    clusterName: CLUSTER, associationId: id, ...input,
  })))
  t.same(await update({ disableSessionTags: false }),
    { name: 'InvalidParameterException', message: 'A policy can only be set when disableSessionTags is true.', status: 400 },
    'session tags cannot come back while a policy is set')
  t.same(await update({}),
    { name: 'InvalidParameterException',
      message: 'At least one of roleArn, targetRoleArn, disableSessionTags or policy must be specified.', status: 400 },
    'an update that changes nothing')
  t.same(await update({ roleArn: 'arn:aws:iam::111122223333:policy/not-a-role' }),
    { name: 'InvalidParameterException', message: 'roleArn is not a valid IAM role ARN: arn:aws:iam::111122223333:policy/not-a-role', status: 400 },
    'a roleArn that is not a role')
  t.same(await update({ policy: 'x'.repeat(2049) }),
    { name: 'InvalidParameterException', message: 'The policy is 2049 characters long; the maximum is 2048.', status: 400 },
    'a policy over 2048 characters')
  t.same(await update({ associationId: 'a-0000000000000000z', roleArn: OTHER_ROLE }),
    { name: 'ResourceNotFoundException', message: 'Association not found: a-0000000000000000z', status: 404 }, 'an unknown id')
  t.same(await update({ associationId: 'a-123', roleArn: OTHER_ROLE }),
    { name: 'InvalidParameterException', message: 'The parameter associationId should be 19 characters long.', status: 400 },
    'a malformed id')
  t.same(await failure(eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: 'a-0000000000000000z' }))),
    { name: 'ResourceNotFoundException', message: 'Association not found: a-0000000000000000z', status: 404 }, 'describe of an unknown id')
  t.same(await failure(eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: 'a-0000000000000000z' }))),
    { name: 'ResourceNotFoundException', message: 'Association not found: a-0000000000000000z', status: 404 }, 'delete of an unknown id')
  t.same(await failure(eks.send(new DescribePodIdentityAssociationCommand({ clusterName: 'gone', associationId: id }))),
    { name: 'ResourceNotFoundException', message: 'No cluster found for name: gone.', status: 404 }, 'an id in an unknown cluster')
  const unchanged = await eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id }))
  t.same(unchanged.association, created, 'failed updates changed nothing')
})

t.test('a clientRequestToken makes create idempotent', async (t) => {
  const { eks, emulator } = await harness(t)
  const input = createInput('batch', 'runner', { clientRequestToken: 'token-1', tags: { owner: 'sync' } })
  const first = await eks.send(new CreatePodIdentityAssociationCommand(input))
  const replay = await eks.send(new CreatePodIdentityAssociationCommand(input))
  t.same(replay.association, first.association, 'the same token and parameters return the same association')
  t.equal(emulator.associations().length, 1, 'and create no second one')
  t.equal(emulator.calls().CreatePodIdentityAssociation, 2, 'both requests reached the emulator')
  t.same(await failure(eks.send(new CreatePodIdentityAssociationCommand({ ...input, roleArn: OTHER_ROLE }))),
    { name: 'InvalidParameterException', message: 'The clientRequestToken token-1 was already used with different parameters.', status: 400 },
    'the same token with other parameters is refused')
  t.same(await failure(eks.send(new CreatePodIdentityAssociationCommand({ ...input, clientRequestToken: 'token-2' }))),
    { name: 'ResourceInUseException', message: `Association already exists: ${first.association?.associationId}`, status: 409 },
    'another token for the same service account conflicts')
  await eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: first.association?.associationId ?? '' }))
  const recreated = await eks.send(new CreatePodIdentityAssociationCommand(input))
  t.not(recreated.association?.associationId, first.association?.associationId, 'after a delete the token creates anew')
  t.equal(emulator.associations().length, 1, 'one association again')
})

t.test('add-on associations carry ownerArn and cannot be changed directly', async (t) => {
  const { eks, emulator } = await harness(t)
  const ownerArn = `arn:aws:eks:us-east-1:${ACCOUNT}:addon/${CLUSTER}/vpc-cni/c8cb1a2e-1c4f-4e0c-9f3c-000000000000`
  const seeded = emulator.seedAssociation({ namespace: 'kube-system', serviceAccount: 'aws-node', roleArn: ROLE, ownerArn })
  const foreign = emulator.seedAssociation({ namespace: 'other', serviceAccount: 'tool', roleArn: OTHER_ROLE, tags: { 'managed-by': 'terraform' } })
  const listed = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER }))
  t.same(listed.associations, [
    { clusterName: CLUSTER, namespace: 'kube-system', serviceAccount: 'aws-node', associationArn: arnOf(seeded.associationId),
      associationId: seeded.associationId, ownerArn },
    { clusterName: CLUSTER, namespace: 'other', serviceAccount: 'tool', associationArn: arnOf(foreign.associationId),
      associationId: foreign.associationId },
  ], 'list shows the add-on owner, and none on a foreign association')
  const described = await eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: seeded.associationId }))
  t.same(described.association, {
    clusterName: CLUSTER, namespace: 'kube-system', serviceAccount: 'aws-node', roleArn: ROLE,
    associationArn: arnOf(seeded.associationId), associationId: seeded.associationId, tags: {},
    createdAt: at(START_MS), modifiedAt: at(START_MS), ownerArn, disableSessionTags: false,
  }, 'describe shows the add-on owner')
  const message = (verb: string) =>
    `Association ${seeded.associationId} is owned by ${ownerArn} and cannot be ${verb} directly.`
  t.same(await failure(eks.send(new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: seeded.associationId, roleArn: OTHER_ROLE }))),
    { name: 'InvalidRequestException', message: message('updated'), status: 400 }, 'an update is refused')
  t.same(await failure(eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: seeded.associationId }))),
    { name: 'InvalidRequestException', message: message('deleted'), status: 400 }, 'a delete is refused')
  t.same(await failure(eks.send(new CreatePodIdentityAssociationCommand(createInput('kube-system', 'aws-node')))),
    { name: 'ResourceInUseException', message: `Association already exists: ${seeded.associationId}`, status: 409 },
    'its service account is taken')
  t.throws(() => emulator.seedAssociation({ namespace: 'other', serviceAccount: 'tool', roleArn: ROLE }),
    { message: `Association already exists: ${foreign.associationId}` }, 'seeding keeps one association per service account')
  t.equal(emulator.writeCalls(), 3, 'seeding makes no calls; the three refused writes were counted')
})

t.test('describes a cluster', async (t) => {
  const { eks, emulator } = await harness(t, { clusters: ['prod', 'staging'], region: 'eu-west-1', accountId: '999988887777' })
  const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'staging' }))
  t.same(cluster, {
    name: 'staging',
    arn: 'arn:aws:eks:eu-west-1:999988887777:cluster/staging',
    createdAt: at(START_MS),
    version: '1.33',
    endpoint: cluster?.endpoint,
    roleArn: 'arn:aws:iam::999988887777:role/eks-cluster-role',
    status: 'ACTIVE',
    platformVersion: 'eks.1',
    certificateAuthority: { data: Buffer.from('emulated CA of staging').toString('base64') },
    tags: {},
  }, 'the fields the SDK models, minimal')
  t.match(cluster?.endpoint, /^https:\/\/[0-9A-F]{32}\.gr7\.eu-west-1\.eks\.amazonaws\.com$/, 'an EKS-shaped endpoint')
  t.same(await failure(eks.send(new DescribeClusterCommand({ name: 'dev' }))),
    { name: 'ResourceNotFoundException', message: 'No cluster found for name: dev.', status: 404 }, 'an unknown cluster')
  emulator.addCluster('dev')
  t.equal((await eks.send(new DescribeClusterCommand({ name: 'dev' }))).cluster?.status, 'ACTIVE', 'a cluster added at runtime')
  t.same(emulator.clusters, ['prod', 'staging', 'dev'], 'clusters in the order they were added')
})

t.test('counts calls per operation', async (t) => {
  const { eks, emulator } = await harness(t)
  const { associationId } = await create(eks, 'a', 'b')
  await eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId }))
  await eks.send(new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId, roleArn: OTHER_ROLE }))
  await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER }))
  await failure(eks.send(new DescribeClusterCommand({ name: 'missing' })))
  await eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId }))
  t.same(emulator.calls(), {
    CreatePodIdentityAssociation: 1,
    DescribePodIdentityAssociation: 1,
    UpdatePodIdentityAssociation: 1,
    DeletePodIdentityAssociation: 1,
    ListPodIdentityAssociations: 1,
    DescribeCluster: 1,
    TagResource: 0,
  }, 'one of each, failures included')
  t.equal(emulator.writeCalls(), 3, 'create, update and delete are writes')
  emulator.resetCalls()
  t.same(Object.values(emulator.calls()), [0, 0, 0, 0, 0, 0, 0], 'reset zeroes every count')
  t.equal(emulator.writeCalls(), 0, 'and the write count')
})

t.test('associations() is a snapshot', async (t) => {
  const { eks, emulator } = await harness(t, { clusters: ['one', 'two'] })
  await eks.send(new CreatePodIdentityAssociationCommand({ clusterName: 'two', namespace: 'n', serviceAccount: 's', roleArn: ROLE, tags: { a: 'b' } }))
  emulator.seedAssociation({ namespace: 'n', serviceAccount: 's', roleArn: ROLE })
  const snapshot = emulator.associations()
  t.same(snapshot.map((a) => a.clusterName), ['one', 'two'], 'every cluster, in cluster order')
  t.same(emulator.associations('two').map((a) => a.clusterName), ['two'], 'or one cluster')
  const second = snapshot[1]
  if (second !== undefined) second.tags['a'] = 'changed'
  t.same(emulator.associations('two')[0]?.tags, { a: 'b' }, 'changing the snapshot changes nothing')
})

t.test('answers malformed requests with REST-JSON errors', async (t) => {
  const { emulator } = await harness(t)
  const unknown = await fetch(`${emulator.endpoint}/clusters/${CLUSTER}/addons`)
  t.same({ status: unknown.status, type: unknown.headers.get('x-amzn-errortype'), body: await unknown.json() },
    { status: 404, type: 'UnknownOperationException', body: { message: `No EKS operation at GET /clusters/${CLUSTER}/addons` } },
    'an unknown route')
  const broken = await fetch(`${emulator.endpoint}/clusters/${CLUSTER}/pod-identity-associations`, { method: 'POST', body: '{"namespace":' })
  t.same({ status: broken.status, type: broken.headers.get('x-amzn-errortype'), body: await broken.json() },
    { status: 400, type: 'BadRequestException', body: { message: 'Malformed request body: not JSON.' } }, 'a body that is not JSON')
  const mistyped = await fetch(`${emulator.endpoint}/clusters/${CLUSTER}/pod-identity-associations`, {
    method: 'POST', body: JSON.stringify({ namespace: 'n', serviceAccount: 's', roleArn: ROLE, disableSessionTags: 'yes' }),
  })
  t.same({ status: mistyped.status, body: await mistyped.json() },
    { status: 400, body: { message: 'Malformed request body: disableSessionTags must be a boolean.' } }, 'a member of the wrong type')
})

t.test('fault injection', async (t) => {
  t.test('a seed replays the same throttling, answered 429 ThrottlingException', async (t) => {
    const { eks, emulator } = await harness(t)
    const outcomes = async (): Promise<string[]> => {
      const seen: string[] = []
      for (let i = 0; i < 12; i++) {
        try {
          await eks.send(new DescribeClusterCommand({ name: CLUSTER }))
          seen.push('ok')
        } catch (error) {
          seen.push((error as Error).name)
        }
      }
      return seen
    }
    emulator.setFaults({ throttleRate: 0.5, seed: 7 })
    const first = await outcomes()
    emulator.setFaults({ throttleRate: 0.5, seed: 7 })
    t.same(await outcomes(), first, 'the same seed gives the same sequence')
    const T = 'ThrottlingException'
    t.same(first, [T, T, 'ok', 'ok', 'ok', T, T, T, 'ok', 'ok', T, T], 'seed 7 at half rate, always')
    emulator.setFaults({ throttleRate: 1, seed: 1 })
    const throttled = await failure(eks.send(new DescribeClusterCommand({ name: CLUSTER })))
    t.same(throttled, { name: 'ThrottlingException', message: 'Rate exceeded', status: 429 }, 'with retries disabled the SDK raises it')
    emulator.setFaults({})
    t.equal((await eks.send(new DescribeClusterCommand({ name: CLUSTER }))).cluster?.name, CLUSTER, 'setFaults({}) switches faults off')
  })

  t.test('server errors are 500 ServerException and have no effect', async (t) => {
    const { eks, emulator } = await harness(t)
    emulator.setFaults({ serverErrorRate: 1 })
    t.same(await failure(create(eks, 'n', 's')),
      { name: 'ServerException', message: 'An internal error occurred. Try the request again.', status: 500 }, 'the SDK raises ServerException')
    t.same(emulator.associations(), [], 'the failed create created nothing')
  })

  t.test('the SDK retries through throttling and server errors', async (t) => {
    const { eks, emulator } = await harness(t, {}, 10)
    emulator.setFaults({ throttleRate: 0.15, serverErrorRate: 0.15, seed: 42 })
    for (let i = 0; i < 15; i++) await create(eks, 'retry', `sa-${i}`)
    const listed = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER }))
    t.equal(listed.associations?.length, 15, 'every create succeeded eventually')
    t.equal(emulator.associations().length, 15, 'with no duplicate')
    t.ok(emulator.calls().CreatePodIdentityAssociation > 15, 'some creates needed retries')
    const attempts = emulator.calls().CreatePodIdentityAssociation + emulator.calls().ListPodIdentityAssociations
    emulator.setFaults({ throttleRate: 0.15, serverErrorRate: 0.15, seed: 42 })
    emulator.resetCalls()
    for (let i = 15; i < 30; i++) await create(eks, 'retry', `sa-${i}`)
    await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER }))
    t.equal(emulator.calls().CreatePodIdentityAssociation + emulator.calls().ListPodIdentityAssociations, attempts,
      'the same seed needs the same number of attempts')
  })

  t.test('a lost response keeps the write; the retried token finds it', async (t) => {
    const { eks, emulator } = await harness(t, {}, 6)
    emulator.setFaults({ lostResponseRate: 0.5, seed: 3, operations: ['CreatePodIdentityAssociation'] })
    const created = []
    for (let i = 0; i < 10; i++) created.push(await create(eks, 'lost', `sa-${i}`))
    t.ok(emulator.calls().CreatePodIdentityAssociation > 10, 'some responses were lost and retried')
    t.same(emulator.associations().map((a) => a.associationId), created.map((a) => a.associationId),
      'the SDK reuses its idempotency token, so each retry returned the association already made')

    const single = new EKSClient({ ...emulator.clientConfig(), maxAttempts: 1 })
    t.teardown(() => single.destroy())
    emulator.setFaults({ lostResponseRate: 1 })
    const input = createInput('lost', 'explicit', { clientRequestToken: 'sync-token' })
    t.same(await failure(single.send(new CreatePodIdentityAssociationCommand(input))),
      { name: 'ServerException', message: 'An internal error occurred. Try the request again.', status: 500 }, 'the caller sees a failure')
    emulator.setFaults({})
    const replay = await single.send(new CreatePodIdentityAssociationCommand(input))
    t.same(emulator.associations().filter((a) => a.serviceAccount === 'explicit').map((a) => a.associationId),
      [replay.association?.associationId], 'but the association exists once, and the replay returns it')
  })

  t.test('latency and faults can target chosen operations', async (t) => {
    const { eks, emulator } = await harness(t)
    emulator.setFaults({ latencyMs: 120, throttleRate: 1, operations: ['CreatePodIdentityAssociation'] })
    const started = performance.now()
    t.equal((await failure(create(eks, 'n', 's'))).name, 'ThrottlingException', 'the chosen operation is throttled')
    t.ok(performance.now() - started >= 115, 'after the configured latency')
    const list = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER }))
    t.same(list.associations, [], 'other operations are untouched')
  })

  t.test('refuses impossible fault settings', async (t) => {
    const { emulator } = await harness(t)
    t.throws(() => emulator.setFaults({ throttleRate: 1.5 }), new RangeError('throttleRate must be between 0 and 1, got 1.5'))
    t.throws(() => emulator.setFaults({ throttleRate: 0.6, serverErrorRate: 0.6 }),
      new RangeError('throttleRate + serverErrorRate must not exceed 1'))
    t.throws(() => emulator.setFaults({ latencyMs: -1 }), new RangeError('latencyMs must not be negative'))
  })
})

t.test('the CLI entry serves the emulator and prints its endpoint', async (t) => {
  const child = spawn(process.execPath, [
    '--import', '@tapjs/typescript/import', 'test/support/eks-emulator-main.ts', '--cluster', 'cli-cluster', '--region', 'ap-south-1',
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const lines = createInterface({ input: child.stdout })
  const [endpoint] = (await once(lines, 'line')) as [string]
  t.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/, 'the first line is the endpoint')
  const eks = new EKSClient({ endpoint, region: 'ap-south-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
  t.teardown(() => eks.destroy())
  const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'cli-cluster' }))
  t.equal(cluster?.arn, `arn:aws:eks:ap-south-1:${ACCOUNT}:cluster/cli-cluster`, 'it serves the requested cluster')
  eks.destroy()
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  t.equal(code, 0, 'SIGTERM closes it cleanly')
})

t.test('TagResource merges tags into an association found by ARN', async (t) => {
  const { eks, emulator } = await harness(t)
  const created = await create(eks, 'shop', 'cart', { tags: { team: 'shop', tier: 'a' } })
  await eks.send(new TagResourceCommand({ resourceArn: arnOf(created.associationId), tags: { tier: 'b', 'session-guard.dev/installation': 'x' } }))
  const described = await eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: created.associationId }))
  t.same(described.association?.tags, { team: 'shop', tier: 'b', 'session-guard.dev/installation': 'x' })
  t.same(await failure(eks.send(new TagResourceCommand({ resourceArn: arnOf('a-00000000000000000'), tags: { a: 'b' } }))),
    { name: 'NotFoundException', message: `No resource found for ARN: ${arnOf('a-00000000000000000')}`, status: 404 })
  t.same(await failure(eks.send(new TagResourceCommand({ resourceArn: arnOf(created.associationId), tags: {} }))),
    { name: 'InvalidParameterException', message: 'tags must name at least one tag.', status: 400 })
  t.equal(emulator.calls().TagResource, 3)
  t.equal(emulator.writeCalls(), 4, 'the create and the tag calls are writes')
})
