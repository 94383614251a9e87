import { isObject } from './grammar.js'

/** One statement of a policy that has passed the grammar, with every list as an array. */
export interface Statement {
  sid?: string
  effect: 'Allow' | 'Deny'
  action?: string[]
  notAction?: string[]
  resource?: string[]
  notResource?: string[]
  condition?: Record<string, Record<string, ConditionValue>>
}

export type ConditionScalar = string | number | boolean
export type ConditionValue = ConditionScalar | ConditionScalar[]

export interface Policy {
  version?: string
  id?: string
  statements: Statement[]
}

/** Builds the model of a document the grammar accepted. */
export function toPolicy(document: Record<string, unknown>): Policy {
  const raw = document.Statement
  const statements = (Array.isArray(raw) ? raw : [raw]).filter(isObject).map(toStatement)
  const policy: Policy = { statements }
  if (typeof document.Version === 'string') policy.version = document.Version
  if (typeof document.Id === 'string') policy.id = document.Id
  return policy
}

function toStatement(raw: Record<string, unknown>): Statement {
  const statement: Statement = { effect: raw.Effect === 'Deny' ? 'Deny' : 'Allow' }
  if (typeof raw.Sid === 'string') statement.sid = raw.Sid
  if (raw.Action !== undefined) statement.action = list(raw.Action)
  if (raw.NotAction !== undefined) statement.notAction = list(raw.NotAction)
  if (raw.Resource !== undefined) statement.resource = list(raw.Resource)
  if (raw.NotResource !== undefined) statement.notResource = list(raw.NotResource)
  if (isObject(raw.Condition)) statement.condition = raw.Condition as Statement['condition']
  return statement
}

function list(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).map(String)
}
