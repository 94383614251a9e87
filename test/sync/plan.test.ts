import t from 'tap'
import type { DesiredAssociation } from '../../src/admission/judgment.js'
import type { ActualAssociation } from '../../src/sync/association.js'
import { planSync } from '../../src/sync/plan.js'
import type { Ownership } from '../../src/sync/ownership.js'
import { createToken, updateToken } from '../../src/sync/tokens.js'

const ownership: Ownership = {
  annotationPrefix: 'session-guard.dev',
  installationId: 'prod-a',
  clusterName: 'blue',
  adoptExisting: false,
}
const ours = { 'session-guard.dev/installation': 'prod-a', 'session-guard.dev/cluster': 'blue' }
const role = 'arn:aws:iam::111122223333:role/shared-reader'
const otherRole = 'arn:aws:iam::111122223333:role/shared-writer'
const policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'

function desired(name: string, extra: Partial<DesiredAssociation> = {}): DesiredAssociation {
  return { namespace: 'shop', serviceAccount: name, roleArn: role, policy, disableSessionTags: true, ...extra }
}

function actual(name: string, id: string, extra: Partial<ActualAssociation> = {}): ActualAssociation {
  return {
    associationId: id,
    associationArn: `arn:aws:eks:eu-west-1:111122223333:podidentityassociation/blue/${id}`,
    namespace: 'shop',
    serviceAccount: name,
    roleArn: role,
    policy,
    disableSessionTags: true,
    tags: { ...ours },
    ...extra,
  }
}

t.test('plans nothing when every owned association matches', async (t) => {
  t.same(planSync([desired('cart')], [actual('cart', 'a-1')], ownership), [])
})

t.test('creates a missing association with ownership tags and a token from the desired state', async (t) => {
  const wanted = desired('cart', { targetRoleArn: otherRole })
  t.strictSame(planSync([wanted], [], ownership), [
    {
      kind: 'create',
      namespace: 'shop',
      serviceAccount: 'cart',
      desired: wanted,
      tags: { 'session-guard.dev/installation': 'prod-a', 'session-guard.dev/cluster': 'blue' },
      clientRequestToken: createToken('prod-a', 'blue', wanted),
    },
  ])
})

t.test('names ownership tags after the configured annotation prefix', async (t) => {
  const plan = planSync([desired('cart')], [], { ...ownership, annotationPrefix: 'guard.example.com' })
  t.strictSame(plan[0]?.kind === 'create' && plan[0].tags, {
    'guard.example.com/installation': 'prod-a',
    'guard.example.com/cluster': 'blue',
  })
})

t.test('updates every field that differs on an owned association', async (t) => {
  const current = actual('cart', 'a-1', { policy: undefined, disableSessionTags: false, targetRoleArn: otherRole })
  const wanted = desired('cart', { roleArn: otherRole })
  t.strictSame(planSync([wanted], [current], ownership), [
    {
      kind: 'update',
      namespace: 'shop',
      serviceAccount: 'cart',
      associationId: 'a-1',
      desired: wanted,
      changed: ['roleArn', 'targetRoleArn', 'policy', 'disableSessionTags'],
      clientRequestToken: updateToken(current, wanted),
    },
  ])
})

t.test('treats an absent and an empty target role or policy as the same', async (t) => {
  const current = actual('cart', 'a-1', { targetRoleArn: '', policy: '' })
  t.same(planSync([desired('cart', { policy: undefined })], [current], ownership), [])
})

t.test('deletes an owned association whose ServiceAccount is no longer desired', async (t) => {
  t.strictSame(planSync([], [actual('gone', 'a-9')], ownership), [
    { kind: 'delete', namespace: 'shop', serviceAccount: 'gone', associationId: 'a-9', reason: 'orphan' },
  ])
})

t.test('never deletes an association it does not own', async (t) => {
  const foreign = [
    actual('addon', 'a-1', { ownerArn: 'arn:aws:eks:eu-west-1:111122223333:addon/blue/vpc-cni/x', tags: ours }),
    actual('other', 'a-2', { tags: { 'session-guard.dev/installation': 'prod-b', 'session-guard.dev/cluster': 'blue' } }),
    actual('copied', 'a-3', { tags: { 'session-guard.dev/installation': 'prod-a', 'session-guard.dev/cluster': 'green' } }),
    actual('manual', 'a-4', { tags: {} }),
  ]
  t.same(planSync([], foreign, { ...ownership, adoptExisting: true }), [])
})

t.test('leaves the association of a ServiceAccount that fails judgment untouched', async (t) => {
  const current = actual('cart', 'a-1', { roleArn: otherRole })
  t.same(planSync([], [current], ownership, ['shop/cart']), [], 'not deleted while held')
  t.same(planSync([desired('cart')], [current], ownership, ['shop/cart']), [], 'not updated while held')
  t.same(planSync([desired('cart')], [], ownership, ['shop/cart']), [], 'not created while held')
})

t.test('reports an add-on association for a guarded ServiceAccount as a conflict, even when adopting', async (t) => {
  const ownerArn = 'arn:aws:eks:eu-west-1:111122223333:addon/blue/aws-ebs-csi-driver/x'
  const wanted = desired('ebs-csi')
  const expected = [
    {
      kind: 'conflict',
      namespace: 'shop',
      serviceAccount: 'ebs-csi',
      associationId: 'a-5',
      owner: 'addon',
      ownerArn,
      desired: wanted,
    },
  ]
  const addon = actual('ebs-csi', 'a-5', { ownerArn, tags: {} })
  t.strictSame(planSync([wanted], [addon], ownership), expected)
  t.strictSame(planSync([wanted], [addon], { ...ownership, adoptExisting: true }), expected)
})

t.test('reports an association of another installation as a conflict, even when adopting', async (t) => {
  const wanted = desired('cart')
  const theirs = actual('cart', 'a-2', { tags: { 'session-guard.dev/installation': 'prod-b', 'session-guard.dev/cluster': 'blue' } })
  const expected = [
    { kind: 'conflict', namespace: 'shop', serviceAccount: 'cart', associationId: 'a-2', owner: 'other-installation', desired: wanted },
  ]
  t.strictSame(planSync([wanted], [theirs], { ...ownership, adoptExisting: true }), expected)
})

t.test('reports an unmanaged association as a conflict without adoptExisting', async (t) => {
  const wanted = desired('cart')
  const manual = actual('cart', 'a-4', { tags: { team: 'shop' } })
  t.strictSame(planSync([wanted], [manual], ownership), [
    { kind: 'conflict', namespace: 'shop', serviceAccount: 'cart', associationId: 'a-4', owner: 'unmanaged', desired: wanted },
  ])
})

t.test('adopts an unmanaged association with adoptExisting, listing what to update', async (t) => {
  const wanted = desired('cart')
  const manual = actual('cart', 'a-4', { tags: { team: 'shop' }, policy: undefined, disableSessionTags: false })
  t.strictSame(planSync([wanted], [manual], { ...ownership, adoptExisting: true }), [
    {
      kind: 'adopt',
      namespace: 'shop',
      serviceAccount: 'cart',
      associationId: 'a-4',
      associationArn: manual.associationArn,
      desired: wanted,
      tags: ours,
      changed: ['policy', 'disableSessionTags'],
      clientRequestToken: updateToken(manual, wanted),
    },
  ])
})

t.test('adopts a matching unmanaged association by tagging it only', async (t) => {
  const plan = planSync([desired('cart')], [actual('cart', 'a-4', { tags: {} })], { ...ownership, adoptExisting: true })
  t.same(plan.map((c) => c.kind === 'adopt' && c.changed), [[]])
})

t.test('keeps the lowest-id owned association and deletes owned duplicates', async (t) => {
  const wanted = desired('cart')
  const plan = planSync([wanted], [actual('cart', 'a-7'), actual('cart', 'a-3', { roleArn: otherRole })], ownership)
  t.strictSame(plan, [
    { kind: 'delete', namespace: 'shop', serviceAccount: 'cart', associationId: 'a-7', reason: 'duplicate' },
    {
      kind: 'update',
      namespace: 'shop',
      serviceAccount: 'cart',
      associationId: 'a-3',
      desired: wanted,
      changed: ['roleArn'],
      clientRequestToken: updateToken(actual('cart', 'a-3', { roleArn: otherRole }), wanted),
    },
  ])
})

t.test('prefers its own association over a foreign one for the same ServiceAccount', async (t) => {
  const plan = planSync([desired('cart')], [actual('cart', 'a-1', { tags: {} }), actual('cart', 'a-2')], ownership)
  t.same(plan, [], 'the owned one matches; the unmanaged one is not ours to touch')
})

t.test('reports the strongest foreign claim when several exist', async (t) => {
  const plan = planSync(
    [desired('cart')],
    [actual('cart', 'a-1', { tags: {} }), actual('cart', 'a-2', { ownerArn: 'arn:aws:eks:::addon/x', tags: {} })],
    { ...ownership, adoptExisting: true },
  )
  t.same(plan.map((c) => [c.kind, 'associationId' in c && c.associationId]), [['conflict', 'a-2']])
})

t.test('orders the plan by namespace, ServiceAccount, then deletes first', async (t) => {
  const plan = planSync(
    [desired('b'), { ...desired('a'), namespace: 'api' }],
    [actual('c', 'a-3'), actual('b', 'a-2', { roleArn: otherRole })],
    ownership,
  )
  t.same(
    plan.map((c) => `${c.kind} ${c.namespace}/${c.serviceAccount}`),
    ['create api/a', 'update shop/b', 'delete shop/c'],
  )
})

t.test('derives stable tokens that change with the state written', async (t) => {
  const wanted = desired('cart')
  t.equal(createToken('prod-a', 'blue', wanted), createToken('prod-a', 'blue', { ...wanted }), 'stable')
  t.match(createToken('prod-a', 'blue', wanted), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.not(createToken('prod-a', 'blue', wanted), createToken('prod-a', 'blue', desired('cart', { roleArn: otherRole })))
  t.not(createToken('prod-a', 'blue', wanted), createToken('prod-b', 'blue', wanted), 'per installation')
  const from = actual('cart', 'a-1', { roleArn: otherRole })
  t.not(updateToken(from, wanted), updateToken(actual('cart', 'a-1', { policy: '{}' }), wanted), 'names the prior state')
  t.not(updateToken(from, wanted), createToken('prod-a', 'blue', wanted))
})
