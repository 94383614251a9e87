/** Whether the sync converged: the emulator's associations compared with the ServiceAccounts. */

/**
 * What is wrong in the emulator compared with the guarded accounts (empty when converged): each account
 * has exactly one association with its role, its normalized policy, session tags disabled, no target
 * role and this installation's ownership tags; no association is left without an account.
 */
export function verify(accounts, associations, { prefix, ownershipTags }) {
  const problems = []
  const byKey = new Map()
  for (const association of associations) {
    const key = `${association.namespace}/${association.serviceAccount}`
    if (byKey.has(key)) problems.push(`${key}: two associations`)
    byKey.set(key, association)
  }
  for (const account of accounts) {
    const key = `${account.namespace}/${account.name}`
    const association = byKey.get(key)
    byKey.delete(key)
    if (!association) {
      problems.push(`${key}: no association`)
      continue
    }
    const want = account.annotations
    if (association.roleArn !== want[`${prefix}/role-arn`]) problems.push(`${key}: roleArn ${association.roleArn}`)
    if (association.policy !== want[`${prefix}/normalized-policy`]) problems.push(`${key}: policy differs`)
    if (association.disableSessionTags !== true) problems.push(`${key}: session tags enabled`)
    if (association.targetRoleArn !== undefined) problems.push(`${key}: targetRoleArn ${association.targetRoleArn}`)
    for (const [tag, value] of Object.entries(ownershipTags)) {
      if (association.tags?.[tag] !== value) problems.push(`${key}: tag ${tag} is ${association.tags?.[tag]}, not ${value}`)
    }
  }
  for (const key of byKey.keys()) problems.push(`${key}: association without a ServiceAccount`)
  return problems
}

