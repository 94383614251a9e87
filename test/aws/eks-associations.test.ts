import t from 'tap'
import type { Test } from 'tap'
import { createEksClient, EksAssociations } from '../../src/aws/eks-associations.js'
import type { EksOperation } from '../../src/aws/eks-associations.js'
import type { DesiredAssociation } from '../../src/admission/judgment.js'
import { startEksEmulator } from '../support/eks-emulator.js'

const role = 'arn:aws:iam::111122223333:role/shared-reader'
const target = 'arn:aws:iam::444455556666:role/cross-account'
const policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
const tags = { 'session-guard.dev/installation': 'prod-a', 'session-guard.dev/cluster': 'test-cluster' }

async function setup(t: Test, pageSize?: number) {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  const observed: Array<[EksOperation, string]> = []
  const client = createEksClient(emulator.clientConfig())
  t.teardown(() => client.destroy())
  const eks = new EksAssociations({
    client,
    clusterName: 'test-cluster',
    ...(pageSize ? { pageSize } : {}),
    observe: (operation, outcome) => observed.push([operation, outcome]),
  })
  return { emulator, eks, observed }
}

function desired(name: string, extra: Partial<DesiredAssociation> = {}): DesiredAssociation {
  return { namespace: 'shop', serviceAccount: name, roleArn: role, policy, disableSessionTags: true, ...extra }
}

t.test('lists every page of associations, with filters', async (t) => {
  const { emulator, eks, observed } = await setup(t, 2)
  for (const name of ['a', 'b', 'c', 'd', 'e']) emulator.seedAssociation({ namespace: 'shop', serviceAccount: name, roleArn: role })
  emulator.seedAssociation({ namespace: 'api', serviceAccount: 'a', roleArn: role, ownerArn: 'arn:aws:eks:us-east-1:111122223333:addon/x' })
  const all = await eks.list()
  t.same(all.map((s) => `${s.namespace}/${s.serviceAccount}`), ['shop/a', 'shop/b', 'shop/c', 'shop/d', 'shop/e', 'api/a'])
  t.equal(emulator.calls().ListPodIdentityAssociations, 3, 'three pages of two')
  t.equal(all[5]?.ownerArn, 'arn:aws:eks:us-east-1:111122223333:addon/x', 'keeps the add-on owner')
  t.match(all[0], { associationId: /^a-[a-z0-9]{17}$/, associationArn: /podidentityassociation\/test-cluster\/a-/ })
  const one = await eks.list({ namespace: 'shop', serviceAccount: 'c' })
  t.same(one.map((s) => s.serviceAccount), ['c'])
  t.same(observed.map(([op, outcome]) => `${op}:${outcome}`), ['list:success', 'list:success', 'list:success', 'list:success'])
})

t.test('creates, describes, updates and deletes an association', async (t) => {
  const { emulator, eks } = await setup(t)
  const outcome = await eks.create(desired('cart', { targetRoleArn: target }), tags, 'token-1')
  t.equal(outcome.created, true)
  if (!outcome.created) return
  const { associationId, associationArn } = outcome.association
  t.strictSame(outcome.association, {
    associationId,
    associationArn,
    namespace: 'shop',
    serviceAccount: 'cart',
    roleArn: role,
    targetRoleArn: target,
    policy,
    disableSessionTags: true,
    tags,
  })
  t.strictSame(await eks.describe(associationId), outcome.association, 'describe reads the same')

  const updated = await eks.update(
    associationId,
    desired('cart', { policy: undefined, disableSessionTags: false }),
    ['targetRoleArn', 'policy', 'disableSessionTags'],
    'token-2',
  )
  t.strictSame(updated, { associationId, associationArn, namespace: 'shop', serviceAccount: 'cart', roleArn: role, disableSessionTags: false, tags }, 'target role and policy cleared')

  t.equal(await eks.delete(associationId), 'deleted')
  t.equal(await eks.delete(associationId), 'absent', 'a second delete finds it gone')
  t.equal(await eks.describe(associationId), undefined)
  t.same(emulator.associations(), [])
})

t.test('replays a create with the same token instead of failing', async (t) => {
  const { emulator, eks } = await setup(t)
  const first = await eks.create(desired('cart'), tags, 'token-1')
  const again = await eks.create(desired('cart'), tags, 'token-1')
  t.equal(again.created, true)
  t.same(again.created && again.association.associationId, first.created && first.association.associationId)
  t.equal(emulator.associations().length, 1)
})

t.test('resolves ResourceInUseException on create by reading the existing association', async (t) => {
  const { emulator, eks, observed } = await setup(t)
  const seeded = emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'cart', roleArn: role, tags: { team: 'shop' } })
  const outcome = await eks.create(desired('cart'), tags, 'token-1')
  t.strictSame(outcome, {
    created: false,
    existing: {
      associationId: seeded.associationId,
      associationArn: seeded.associationArn,
      namespace: 'shop',
      serviceAccount: 'cart',
      roleArn: role,
      disableSessionTags: false,
      tags: { team: 'shop' },
    },
  })
  t.same(observed.map(([op, result]) => `${op}:${result}`), ['create:ResourceInUseException', 'describe:success'])
  t.equal(emulator.calls().CreatePodIdentityAssociation, 1, 'the create is not retried')
})

t.test('retries throttling and server errors inside the SDK', async (t) => {
  const { emulator, eks } = await setup(t)
  emulator.seedAssociation({ namespace: 'shop', serviceAccount: 'a', roleArn: role })
  emulator.setFaults({ throttleRate: 0.1, serverErrorRate: 0.2, seed: 7, operations: ['ListPodIdentityAssociations'] })
  const lists = await Promise.all(Array.from({ length: 10 }, () => eks.list()))
  t.same(lists.map((l) => l.length), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'every list succeeds')
  t.ok(emulator.calls().ListPodIdentityAssociations > 10, 'some were retried')
})

t.test('reports a failing call to the observer with the error name', async (t) => {
  const { eks, observed } = await setup(t)
  await t.rejects(eks.update('a-00000000000000000', desired('cart'), [], 'token'), { name: 'ResourceNotFoundException' })
  t.same(observed, [['update', 'ResourceNotFoundException']])
})
