import type { ActualAssociation } from './association.js'

/** Who this installation is, as written in the tags of the associations it creates. */
export interface Ownership {
  annotationPrefix: string
  installationId: string
  clusterName: string
  /** Take over an existing association that nobody owns (`sync.adoptExisting`). */
  adoptExisting: boolean
}

/**
 * - `owned`: carries this installation's tags; session-guard may update and delete it.
 * - `addon`: an EKS add-on manages it (`ownerArn`); never touched.
 * - `other-installation`: another session-guard installation's; never touched.
 * - `unmanaged`: nobody claims it; adopted only with `adoptExisting`.
 */
export type OwnershipClass = 'owned' | 'addon' | 'other-installation' | 'unmanaged'

export function ownershipTagKeys(annotationPrefix: string): { installation: string; cluster: string } {
  return { installation: `${annotationPrefix}/installation`, cluster: `${annotationPrefix}/cluster` }
}

/** The tags that mark an association as this installation's. */
export function ownershipTags(ownership: Ownership): Record<string, string> {
  const keys = ownershipTagKeys(ownership.annotationPrefix)
  return { [keys.installation]: ownership.installationId, [keys.cluster]: ownership.clusterName }
}

export function classifyOwnership(association: ActualAssociation, ownership: Ownership): OwnershipClass {
  if (association.ownerArn) return 'addon'
  const keys = ownershipTagKeys(ownership.annotationPrefix)
  const installation = association.tags[keys.installation]
  const cluster = association.tags[keys.cluster]
  if (installation === undefined && cluster === undefined) return 'unmanaged'
  if (installation === ownership.installationId && cluster === ownership.clusterName) return 'owned'
  return 'other-installation'
}
