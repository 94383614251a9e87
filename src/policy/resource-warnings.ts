import type { ActionSet } from './action-set.js'
import { statementActions, type CompiledBaseRole, type CompiledStatement } from './base-role.js'
import type { ActionCatalog } from './catalog.js'
import type { Finding } from './findings.js'
import type { Policy } from './model.js'
import { globIncludes, globsIntersect } from './resource-glob.js'

/**
 * RESOURCE_OUTSIDE_BASE_ROLE warnings: a Resource of a session Allow statement that no base-role
 * Allow statement for the same actions can ever match. Such a resource grants nothing — usually a
 * typo in a bucket name or an account id. A resource the base covers for some of the statement's
 * actions is fine (S3 splits bucket and object ARNs, for example), so only total misses warn.
 */
export function resourceWarnings(catalog: ActionCatalog, policy: Policy, baseRole: CompiledBaseRole): Finding[] {
  const findings: Finding[] = []
  policy.statements.forEach((statement, index) => {
    if (statement.effect !== 'Allow' || !statement.resource) return
    const actions = statementActions(catalog, statement).intersectWith(baseRole.allowed)
    if (actions.isEmpty()) return // nothing the base allows: ACTION_OUTSIDE_BASE_ROLE says it
    for (const resource of statement.resource) {
      if (!coveredForSomeAction(resource, actions, baseRole.allowStatements)) {
        const where = statement.sid ? `statement "${statement.sid}"` : `statement ${index + 1}`
        findings.push({
          code: 'RESOURCE_OUTSIDE_BASE_ROLE',
          message: `${where}: the base role never allows its actions on ${resource}, so it grants nothing there`,
          details: { statement: index, resource },
        })
      }
    }
  })
  return findings
}

function coveredForSomeAction(resource: string, actions: ActionSet, baseStatements: CompiledStatement[]): boolean {
  for (const base of baseStatements) {
    if (base.actions.intersects(actions) && covers(base, resource)) return true
  }
  return false
}

function covers(base: CompiledStatement, resource: string): boolean {
  if (base.resource) return base.resource.some((pattern) => globsIntersect(pattern, resource))
  // NotResource: covers unless every ARN the resource names is excluded
  return !(base.notResource ?? []).some((excluded) => globIncludes(excluded, resource))
}
