/**
 * The text of the Events the sync records on a ServiceAccount: written for the person who runs
 * `kubectl describe serviceaccount`, saying what happened and what to do.
 */
import type { DesiredAssociation, Judgment } from '../admission/judgment.js'
import type { AssociationField } from './association.js'
import type { ConflictReport } from './plan.js'

export function createdMessage(associationId: string, desired: DesiredAssociation): string {
  return `Created EKS Pod Identity association ${associationId} ${describeDesired(desired)}.`
}

export function updatedMessage(associationId: string, changed: readonly AssociationField[], desired: DesiredAssociation): string {
  return `Updated EKS Pod Identity association ${associationId} (${changed.join(', ')}) ${describeDesired(desired)}.`
}

export function adoptedMessage(associationId: string, changed: readonly AssociationField[]): string {
  const updated = changed.length > 0 ? ` and updated it (${changed.join(', ')})` : ''
  return `Adopted the existing EKS Pod Identity association ${associationId}${updated}; session-guard now manages it.`
}

export function deletedMessage(associationId: string): string {
  return `Deleted EKS Pod Identity association ${associationId}: the ServiceAccount no longer carries session-guard annotations.`
}

export const restartRequiredMessage =
  'Running pods keep the credentials they already have (the EKS Pod Identity agent caches them for up to 6 hours) until they restart; ' +
  'restart the workloads that use this ServiceAccount (kubectl rollout restart) to apply the change now.'

export function restartedMessage(workloads: readonly string[]): string {
  return `Restarted ${workloads.join(', ')} so that their pods get credentials under the updated association.`
}

export function conflictMessage(call: ConflictReport): string {
  const why = {
    addon: `is managed by the EKS add-on ${call.ownerArn ?? ''}; session-guard never changes add-on associations`,
    'other-installation': 'belongs to another session-guard installation',
    unmanaged: 'was not created by session-guard; set sync.adoptExisting: true to let session-guard manage it, or delete it',
  }[call.owner]
  return `The EKS Pod Identity association ${call.associationId} for this ServiceAccount ${why}. It is left untouched, so the session-guard annotations are not applied.`
}

export function rejectedMessage(judgment: Judgment): string {
  const findings = judgment.violations.map((v) => `${v.code}: ${v.message}`)
  return `The session-guard annotations fail the admission checks, so they are not applied to EKS and any existing association is left as it is. ${findings.join(' ')}`
}

export function failedMessage(error: string, retryInMs: number): string {
  return `Could not sync the EKS Pod Identity association: ${error}. Retrying in ${Math.ceil(retryInMs / 1000)} s.`
}

function describeDesired(desired: DesiredAssociation): string {
  const parts = [`for role ${desired.roleArn}`]
  if (desired.targetRoleArn) parts.push(`target role ${desired.targetRoleArn}`)
  parts.push(desired.policy ? `a ${desired.policy.length}-character session policy` : 'no session policy')
  return parts.join(', ')
}
