import { createHash } from 'node:crypto'
import type { DesiredAssociation } from '../admission/judgment.js'
import type { ActualAssociation } from './association.js'

/**
 * Idempotency tokens (`clientRequestToken`) derived from the state being written, so a create or update
 * retried after a lost response, or replayed by a restarted sidecar, is recognised by EKS as the same
 * request. An update's token also names the state it changes from: a later change back to an earlier
 * state (A → B → A) is a new request, not a replay of the first.
 */
export function createToken(installationId: string, clusterName: string, desired: DesiredAssociation): string {
  return tokenOf(['create', installationId, clusterName, ...desiredFields(desired)])
}

export function updateToken(actual: ActualAssociation, desired: DesiredAssociation): string {
  return tokenOf([
    'update',
    actual.associationId,
    actual.roleArn,
    actual.targetRoleArn ?? '',
    actual.policy ?? '',
    String(actual.disableSessionTags),
    ...desiredFields(desired),
  ])
}

function desiredFields(desired: DesiredAssociation): string[] {
  return [
    desired.namespace,
    desired.serviceAccount,
    desired.roleArn,
    desired.targetRoleArn ?? '',
    desired.policy ?? '',
    String(desired.disableSessionTags),
  ]
}

/** A UUID-shaped digest: 36 characters, inside every length limit EKS puts on request tokens. */
function tokenOf(parts: string[]): string {
  const hex = createHash('sha256').update(JSON.stringify(parts)).digest('hex')
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)].join('-')
}
