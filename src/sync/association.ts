import type { DesiredAssociation } from '../admission/judgment.js'

/** An EKS Pod Identity association as DescribePodIdentityAssociation reports it. */
export interface ActualAssociation {
  associationId: string
  associationArn: string
  namespace: string
  serviceAccount: string
  roleArn: string
  targetRoleArn?: string
  policy?: string
  disableSessionTags: boolean
  /** Set on associations that an EKS add-on manages: those are never touched. */
  ownerArn?: string
  tags: Record<string, string>
}

/** What ListPodIdentityAssociations tells about an association without describing it. */
export interface AssociationSummary {
  associationId: string
  associationArn: string
  namespace: string
  serviceAccount: string
  ownerArn?: string
}

/** The fields of an association that an update can change. */
export type AssociationField = 'roleArn' | 'targetRoleArn' | 'policy' | 'disableSessionTags'

/** `namespace/serviceAccount`: EKS allows one association per key and cluster. */
export type ServiceAccountKey = string

export function serviceAccountKey(namespace: string, serviceAccount: string): ServiceAccountKey {
  return `${namespace}/${serviceAccount}`
}

/** The fields whose values differ between what EKS holds and what the ServiceAccount asks for. */
export function changedFields(actual: ActualAssociation, desired: DesiredAssociation): AssociationField[] {
  const changed: AssociationField[] = []
  if (actual.roleArn !== desired.roleArn) changed.push('roleArn')
  if ((actual.targetRoleArn ?? '') !== (desired.targetRoleArn ?? '')) changed.push('targetRoleArn')
  if ((actual.policy ?? '') !== (desired.policy ?? '')) changed.push('policy')
  if (actual.disableSessionTags !== desired.disableSessionTags) changed.push('disableSessionTags')
  return changed
}
