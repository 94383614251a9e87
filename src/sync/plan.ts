/**
 * The reconcile planner: a pure function from the desired associations (judged ServiceAccounts) and the
 * actual ones (EKS) to the calls that make EKS match. It never sees a client; the controller executes.
 */
import type { DesiredAssociation } from '../admission/judgment.js'
import { changedFields, serviceAccountKey } from './association.js'
import type { ActualAssociation, AssociationField, ServiceAccountKey } from './association.js'
import { classifyOwnership, ownershipTags } from './ownership.js'
import type { Ownership } from './ownership.js'
import { createToken, updateToken } from './tokens.js'

interface Target {
  namespace: string
  serviceAccount: string
}

export interface CreateCall extends Target {
  kind: 'create'
  desired: DesiredAssociation
  tags: Record<string, string>
  clientRequestToken: string
}

export interface UpdateCall extends Target {
  kind: 'update'
  associationId: string
  desired: DesiredAssociation
  changed: AssociationField[]
  clientRequestToken: string
}

/** Take over an unmanaged association: tag it as ours, then update what differs (if anything). */
export interface AdoptCall extends Target {
  kind: 'adopt'
  associationId: string
  associationArn: string
  desired: DesiredAssociation
  tags: Record<string, string>
  changed: AssociationField[]
  clientRequestToken: string
}

export interface DeleteCall extends Target {
  kind: 'delete'
  associationId: string
  /** `orphan`: its ServiceAccount is gone or no longer guarded; `duplicate`: a second owned one. */
  reason: 'orphan' | 'duplicate'
}

/** Not a call: a guarded ServiceAccount whose association belongs to someone else. */
export interface ConflictReport extends Target {
  kind: 'conflict'
  associationId: string
  owner: 'addon' | 'other-installation' | 'unmanaged'
  ownerArn?: string
  desired: DesiredAssociation
}

export type PlannedCall = CreateCall | UpdateCall | AdoptCall | DeleteCall | ConflictReport

const kindOrder: Record<PlannedCall['kind'], number> = { delete: 0, adopt: 1, update: 2, create: 3, conflict: 4 }

/**
 * Plans the calls that bring `actual` to `desired`.
 * - `desired`: one entry per guarded, clean ServiceAccount.
 * - `actual`: every association in scope (described: tags and settings known).
 * - `held`: ServiceAccounts that are guarded but fail judgment; their associations are left untouched.
 * Only associations this installation owns are updated or deleted. The result is ordered by
 * namespace, ServiceAccount, then deletes before writes, so equal inputs give equal plans.
 */
export function planSync(
  desired: readonly DesiredAssociation[],
  actual: readonly ActualAssociation[],
  ownership: Ownership,
  held: Iterable<ServiceAccountKey> = [],
): PlannedCall[] {
  const actualByKey = groupByKey(actual)
  const desiredByKey = new Map(desired.map((d) => [serviceAccountKey(d.namespace, d.serviceAccount), d]))
  const heldKeys = new Set(held)
  const plan: PlannedCall[] = []

  for (const [key, wanted] of desiredByKey) {
    if (heldKeys.has(key)) continue
    plan.push(...planGuarded(wanted, actualByKey.get(key) ?? [], ownership))
  }
  for (const [key, associations] of actualByKey) {
    if (desiredByKey.has(key) || heldKeys.has(key)) continue
    for (const association of associations) {
      if (classifyOwnership(association, ownership) === 'owned') plan.push(deleteCall(association, 'orphan'))
    }
  }
  return plan.sort(comparePlanned)
}

function planGuarded(
  desired: DesiredAssociation,
  existing: readonly ActualAssociation[],
  ownership: Ownership,
): PlannedCall[] {
  const owned = existing.filter((a) => classifyOwnership(a, ownership) === 'owned').sort(byAssociationId)
  const [kept, ...duplicates] = owned
  if (kept) {
    const plan: PlannedCall[] = duplicates.map((d) => deleteCall(d, 'duplicate'))
    const changed = changedFields(kept, desired)
    if (changed.length > 0) plan.push(updateCall(kept, desired, changed))
    return plan
  }
  const [other] = existing
    .slice()
    .sort((a, b) => claimRank(a, ownership) - claimRank(b, ownership) || byAssociationId(a, b))
  if (!other) {
    return [
      {
        kind: 'create',
        namespace: desired.namespace,
        serviceAccount: desired.serviceAccount,
        desired,
        tags: ownershipTags(ownership),
        clientRequestToken: createToken(ownership.installationId, ownership.clusterName, desired),
      },
    ]
  }
  const owner = classifyOwnership(other, ownership) as ConflictReport['owner']
  if (owner === 'unmanaged' && ownership.adoptExisting) {
    return [
      {
        kind: 'adopt',
        namespace: desired.namespace,
        serviceAccount: desired.serviceAccount,
        associationId: other.associationId,
        associationArn: other.associationArn,
        desired,
        tags: ownershipTags(ownership),
        changed: changedFields(other, desired),
        clientRequestToken: updateToken(other, desired),
      },
    ]
  }
  return [
    {
      kind: 'conflict',
      namespace: desired.namespace,
      serviceAccount: desired.serviceAccount,
      associationId: other.associationId,
      owner,
      ...(other.ownerArn ? { ownerArn: other.ownerArn } : {}),
      desired,
    },
  ]
}

function updateCall(kept: ActualAssociation, desired: DesiredAssociation, changed: AssociationField[]): UpdateCall {
  return {
    kind: 'update',
    namespace: desired.namespace,
    serviceAccount: desired.serviceAccount,
    associationId: kept.associationId,
    desired,
    changed,
    clientRequestToken: updateToken(kept, desired),
  }
}

function deleteCall(association: ActualAssociation, reason: DeleteCall['reason']): DeleteCall {
  return {
    kind: 'delete',
    namespace: association.namespace,
    serviceAccount: association.serviceAccount,
    associationId: association.associationId,
    reason,
  }
}

/** When several associations that are not ours claim one key, report the strongest claim. */
function claimRank(association: ActualAssociation, ownership: Ownership): number {
  return ['addon', 'other-installation', 'unmanaged'].indexOf(classifyOwnership(association, ownership))
}

function groupByKey(actual: readonly ActualAssociation[]): Map<ServiceAccountKey, ActualAssociation[]> {
  const byKey = new Map<ServiceAccountKey, ActualAssociation[]>()
  for (const association of actual) {
    const key = serviceAccountKey(association.namespace, association.serviceAccount)
    const list = byKey.get(key)
    if (list) list.push(association)
    else byKey.set(key, [association])
  }
  return byKey
}

function byAssociationId(a: ActualAssociation, b: ActualAssociation): number {
  return a.associationId < b.associationId ? -1 : a.associationId > b.associationId ? 1 : 0
}

function comparePlanned(a: PlannedCall, b: PlannedCall): number {
  return (
    compareText(a.namespace, b.namespace) ||
    compareText(a.serviceAccount, b.serviceAccount) ||
    kindOrder[a.kind] - kindOrder[b.kind] ||
    compareText('associationId' in a ? a.associationId : '', 'associationId' in b ? b.associationId : '')
  )
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
