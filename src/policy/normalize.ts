import type { ConditionScalar, ConditionValue, Policy, Statement } from './model.js'

/**
 * The canonical compact JSON of a policy: what is sent to EKS and what the size limit is checked on.
 * It never changes meaning: keys in a fixed order, actions de-duplicated case-insensitively (IAM
 * matches actions case-insensitively) and sorted, resources and condition values de-duplicated and
 * sorted, one-element lists written as scalars. Statement order is the author's.
 */
export function normalizePolicy(policy: Policy): string {
  const document: Record<string, unknown> = {}
  if (policy.version !== undefined) document.Version = policy.version
  if (policy.id !== undefined) document.Id = policy.id
  document.Statement = policy.statements.map(normalizeStatement)
  return JSON.stringify(document)
}

function normalizeStatement(statement: Statement): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (statement.sid !== undefined && statement.sid !== '') out.Sid = statement.sid
  out.Effect = statement.effect
  if (statement.action) out.Action = scalarIfOne(uniqueActions(statement.action))
  if (statement.notAction) out.NotAction = scalarIfOne(uniqueActions(statement.notAction))
  if (statement.resource) out.Resource = scalarIfOne(uniqueSorted(statement.resource))
  if (statement.notResource) out.NotResource = scalarIfOne(uniqueSorted(statement.notResource))
  if (statement.condition && Object.keys(statement.condition).length > 0) {
    out.Condition = normalizeCondition(statement.condition)
  }
  return out
}

function uniqueActions(actions: string[]): string[] {
  const byLowerCase = new Map<string, string>()
  for (const action of actions) {
    const key = action.toLowerCase()
    if (!byLowerCase.has(key)) byLowerCase.set(key, action)
  }
  return [...byLowerCase.entries()].sort(([a], [b]) => compare(a, b)).map(([, action]) => action)
}

function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort(compare)
}

function normalizeCondition(condition: Record<string, Record<string, ConditionValue>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const operator of Object.keys(condition).sort(compare)) {
    const keys = condition[operator] ?? {}
    const block: Record<string, unknown> = {}
    for (const key of Object.keys(keys).sort(compare)) block[key] = normalizeConditionValue(keys[key] as ConditionValue)
    out[operator] = block
  }
  return out
}

function normalizeConditionValue(value: ConditionValue): ConditionValue {
  if (!Array.isArray(value)) return value
  const byText = new Map<string, ConditionScalar>()
  for (const item of value) byText.set(JSON.stringify(item), item)
  const unique = [...byText.entries()].sort(([a], [b]) => compare(a, b)).map(([, item]) => item)
  return scalarIfOne(unique)
}

function scalarIfOne<T>(values: T[]): T | T[] {
  return values.length === 1 ? (values[0] as T) : values
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
