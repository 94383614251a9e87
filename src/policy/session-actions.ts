import type { ActionSet } from './action-set.js'
import { statementActions } from './base-role.js'
import type { ActionCatalog } from './catalog.js'
import type { Finding } from './findings.js'
import type { Policy } from './model.js'
import { thousands } from '../util/text.js'

const SHOWN_ACTIONS = 5

/** The actions a session policy requests: those its Allow statements match (PRODUCT.md). */
export function requestedActions(catalog: ActionCatalog, policy: Policy): ActionSet {
  const requested = catalog.empty()
  for (const statement of policy.statements) {
    if (statement.effect === 'Allow') requested.unionWith(statementActions(catalog, statement))
  }
  return requested
}

/** UNKNOWN_ACTION: patterns of Allow statements (Action or NotAction) that match no IAM action. */
export function unknownActionFinding(catalog: ActionCatalog, policy: Policy): Finding | undefined {
  const unknown = new Set<string>()
  for (const statement of policy.statements) {
    if (statement.effect !== 'Allow') continue
    for (const pattern of [...(statement.action ?? []), ...(statement.notAction ?? [])]) {
      if (pattern !== '*' && catalog.expand(pattern).length === 0) unknown.add(pattern)
    }
  }
  if (unknown.size === 0) return undefined
  const actions = [...unknown]
  const list = actions.map((a) => `"${a}"`).join(', ')
  return {
    code: 'UNKNOWN_ACTION',
    message: `${list} ${actions.length === 1 ? 'matches' : 'match'} no IAM action: check the spelling against the service's actions`,
    actions,
  }
}

/**
 * ACTION_OUTSIDE_BASE_ROLE: every requested action the base role does not allow, sorted, with a
 * message that groups them by the session-policy pattern that brought them in.
 */
export function outsideActionsFinding(
  catalog: ActionCatalog,
  policy: Policy,
  requested: ActionSet,
  allowed: ActionSet,
): Finding | undefined {
  const outside = requested.clone().subtract(allowed)
  if (outside.isEmpty()) return undefined
  const actions = outside.ids().map((id) => catalog.name(id))
  const groups = groupByPattern(catalog, policy, outside)
  return {
    code: 'ACTION_OUTSIDE_BASE_ROLE',
    message:
      `the session policy allows ${countWord(actions.length, 'action')} the base role does not: ${groups.join('; ')}. ` +
      `A session policy can only narrow the role: remove ${actions.length === 1 ? 'it, or use a role that allows it' : 'them, or use a role that allows them'}`,
    actions,
  }
}

function groupByPattern(catalog: ActionCatalog, policy: Policy, outside: ActionSet): string[] {
  const attributed = catalog.empty()
  const groups: string[] = []
  const literals: string[] = []
  const describe = (label: string, literal: boolean, set: ActionSet) => {
    set.subtract(attributed)
    if (set.isEmpty()) return
    attributed.unionWith(set)
    const count = set.count()
    const names = set.ids(literal ? Infinity : SHOWN_ACTIONS + 1).map((id) => catalog.name(id))
    if (literal) literals.push(...names)
    else groups.push(`${label} brings ${countWord(count, 'action')} the role lacks: ${truncatedList(names, count)}`)
  }
  for (const statement of policy.statements) {
    if (statement.effect !== 'Allow') continue
    if (statement.action) {
      for (const pattern of statement.action) {
        describe(pattern, !/[*?]/.test(pattern), catalog.match([pattern]).intersectWith(outside))
      }
    } else {
      const label = `NotAction ${[...new Set(statement.notAction?.map((a) => a.toLowerCase()))].join(', ')}`
      describe(label, false, statementActions(catalog, statement).intersectWith(outside))
    }
  }
  if (literals.length > 0) {
    groups.unshift(`${truncatedList(literals.sort(byLowerCase))} ${literals.length === 1 ? 'is' : 'are'} not in the role`)
  }
  return groups
}

function byLowerCase(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  return x < y ? -1 : x > y ? 1 : 0
}

/** The first names of a list and how many more there are; `total` when only the first are given. */
export function truncatedList(names: string[], total = names.length, shown = SHOWN_ACTIONS): string {
  if (total <= shown + 1) return names.join(', ')
  return `${names.slice(0, shown).join(', ')}, … and ${thousands(total - shown)} more`
}

function countWord(n: number, word: string): string {
  return `${thousands(n)} ${word}${n === 1 ? '' : 's'}`
}

