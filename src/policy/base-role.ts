import { createHash } from 'node:crypto'
import type { ActionSet } from './action-set.js'
import type { ActionCatalog } from './catalog.js'
import type { Policy, Statement } from './model.js'
import { checkGrammar, describeProblem, parsePolicy, type PolicyProblem } from './parse.js'

/** The documents of a base role as the engine takes them. */
export interface BaseRoleInput {
  policies: string[]
  /** How messages name each policy (file or policy name); `policy 1`, `policy 2`, … otherwise. */
  policyNames?: string[]
  permissionsBoundary?: string
}

/** One statement of the base role with its actions expanded. */
export interface CompiledStatement {
  /** `policy ReadOnlyAccess, statement "AllowRead"` or `policy 1, statement 3`. */
  label: string
  effect: 'Allow' | 'Deny'
  actions: ActionSet
  resource?: string[]
  notResource?: string[]
  source: Statement
}

/** What a base role allows, ready for repeated checks. */
export interface CompiledBaseRole {
  /** Content hash of the documents: equal documents, equal key. */
  key: string
  /** Actions the role allows at action level (PRODUCT.md), boundary applied. */
  allowed: ActionSet
  /** The Allow statements of the role's policies (not of the boundary), for resource warnings. */
  allowStatements: CompiledStatement[]
  /** Every statement of the role's policies and boundary, for session-tag warnings. */
  statements: CompiledStatement[]
}

/** A base-role document that is not a valid policy: the role cannot be checked against. */
export class BasePolicyError extends Error {
  constructor(
    readonly policyName: string,
    readonly problems: PolicyProblem[],
  ) {
    super(`${policyName} is not a valid policy: ${problems.map(describeProblem).join('; ')}`)
    this.name = 'BasePolicyError'
  }
}

export function baseRoleKey(input: BaseRoleInput): string {
  const hash = createHash('sha256')
  for (const policy of input.policies) hash.update(policy).update('\u0000')
  hash.update('\u0001').update(input.permissionsBoundary ?? '')
  return hash.digest('hex')
}

/** Expands a base role's documents; throws BasePolicyError for a document that is not a policy. */
export function compileBaseRole(catalog: ActionCatalog, input: BaseRoleInput, key = baseRoleKey(input)): CompiledBaseRole {
  const statements: CompiledStatement[] = []
  input.policies.forEach((text, i) => {
    const name = input.policyNames?.[i] ?? `policy ${i + 1}`
    statements.push(...compileStatements(catalog, readBasePolicy(text, name), name))
  })
  const allowStatements = statements.filter((s) => s.effect === 'Allow')
  const allowed = allowedActions(catalog, statements)
  if (input.permissionsBoundary !== undefined) {
    const boundary = readBasePolicy(input.permissionsBoundary, 'the permissions boundary')
    const boundaryStatements = compileStatements(catalog, boundary, 'the permissions boundary')
    allowed.intersectWith(allowedActions(catalog, boundaryStatements))
    statements.push(...boundaryStatements)
  }
  return { key, allowed, allowStatements, statements }
}

function readBasePolicy(text: string, name: string): Policy {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    const located = parsePolicy(text) // slower, but says where the syntax error is
    throw new BasePolicyError(name, located.ok ? [{ path: '$', message: 'not valid JSON' }] : located.problems)
  }
  const result = checkGrammar(document)
  if (!result.ok) throw new BasePolicyError(name, result.problems)
  return result.policy
}

function compileStatements(catalog: ActionCatalog, policy: Policy, name: string): CompiledStatement[] {
  return policy.statements.map((statement, i) => {
    const compiled: CompiledStatement = {
      label: `${name}, statement ${statement.sid ? JSON.stringify(statement.sid) : i + 1}`,
      effect: statement.effect,
      actions: statementActions(catalog, statement),
      source: statement,
    }
    if (statement.resource) compiled.resource = statement.resource
    if (statement.notResource) compiled.notResource = statement.notResource
    return compiled
  })
}

/** The actions a statement matches: its Action patterns, or every action but its NotAction patterns. */
export function statementActions(catalog: ActionCatalog, statement: Statement): ActionSet {
  if (statement.action) return catalog.match(statement.action)
  return catalog.all().subtract(catalog.match(statement.notAction ?? []))
}

/**
 * PRODUCT.md: allowed when some Allow statement matches (Resource and Condition ignored) and no Deny
 * statement without a Condition whose Resource includes "*" matches.
 */
function allowedActions(catalog: ActionCatalog, statements: CompiledStatement[]): ActionSet {
  const allowed = catalog.empty()
  for (const s of statements) if (s.effect === 'Allow') allowed.unionWith(s.actions)
  for (const s of statements) {
    if (s.effect === 'Deny' && !hasCondition(s.source) && s.resource?.includes('*')) allowed.subtract(s.actions)
  }
  return allowed
}

export function hasCondition(statement: Statement): boolean {
  return statement.condition !== undefined && Object.keys(statement.condition).length > 0
}
