import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'

/**
 * The grammar of an identity/session policy (PRODUCT.md: Version, Statement, Effect, Action/NotAction,
 * Resource/NotResource, Condition; no Principal). The schema checks shapes and values; the rules a
 * JSON Schema says badly ("exactly one of", unique Sids) are checked in code so that every message
 * reads well. Every problem carries a JSON path.
 */

export interface GrammarProblem {
  path: string
  message: string
}

const CONDITION_OPERATORS = [
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase',
  'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals',
  'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress',
  'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike',
]
/** `Null` takes no IfExists form; every other operator does, and all take the set prefixes. */
const OPERATOR_PATTERN = `^(ForAllValues:|ForAnyValue:)?((${CONDITION_OPERATORS.join('|')})(IfExists)?|Null)$`
const ACTION_PATTERN = '^(\\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+)$'
const RESOURCE_PATTERN = '^(\\*|arn:[^:]+:[^:]*:[^:]*:[^:]*:.+)$'

const stringOrList = (pattern?: string) => ({
  type: ['string', 'array'],
  ...(pattern ? { pattern } : { minLength: 1 }),
  minItems: 1,
  items: { type: 'string', ...(pattern ? { pattern } : { minLength: 1 }) },
})

const conditionValue = {
  type: ['string', 'number', 'boolean', 'array'],
  minItems: 1,
  items: { type: ['string', 'number', 'boolean'] },
}

const statementSchema = {
  type: 'object',
  properties: {
    Sid: { type: 'string', pattern: '^[A-Za-z0-9]*$' },
    Effect: { enum: ['Allow', 'Deny'] },
    Action: stringOrList(ACTION_PATTERN),
    NotAction: stringOrList(ACTION_PATTERN),
    Resource: stringOrList(RESOURCE_PATTERN),
    NotResource: stringOrList(RESOURCE_PATTERN),
    Condition: {
      type: 'object',
      propertyNames: { pattern: OPERATOR_PATTERN },
      additionalProperties: {
        type: 'object',
        minProperties: 1,
        propertyNames: { minLength: 1 },
        additionalProperties: conditionValue,
      },
    },
  },
  required: ['Effect'],
  additionalProperties: false,
}

const policySchema = {
  type: 'object',
  properties: {
    Version: { enum: ['2012-10-17', '2008-10-17'] },
    Id: { type: 'string' },
    Statement: {
      type: ['object', 'array'],
      minItems: 1,
      items: { $ref: '#/$defs/statement' },
    },
  },
  required: ['Statement'],
  additionalProperties: false,
  $defs: { statement: statementSchema },
  if: { properties: { Statement: { type: 'object' } } },
  then: { properties: { Statement: { $ref: '#/$defs/statement' } } },
}

let validator: ValidateFunction | undefined

function compiled(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, validateSchema: false }).compile(policySchema)
  return validator
}

/** Every grammar problem of a parsed document, in document order; empty when it is a valid policy. */
export function grammarProblems(document: unknown): GrammarProblem[] {
  const validate = compiled()
  const problems: GrammarProblem[] = []
  if (!validate(document)) {
    for (const error of validate.errors ?? []) {
      const problem = describe(error)
      if (problem) problems.push(problem)
    }
  }
  problems.push(...statementRules(document))
  return dedupe(problems)
}

function statementRules(document: unknown): GrammarProblem[] {
  if (!isObject(document)) return []
  const statement = document.Statement
  const entries: Array<[string, unknown]> = Array.isArray(statement)
    ? statement.map((s, i) => [`$.Statement[${i}]`, s])
    : [['$.Statement', statement]]
  const problems: GrammarProblem[] = []
  const sids = new Map<string, string>()
  for (const [path, s] of entries) {
    if (!isObject(s)) continue
    problems.push(...exactlyOne(path, s, 'Action', 'NotAction'))
    problems.push(...exactlyOne(path, s, 'Resource', 'NotResource'))
    if (typeof s.Sid === 'string' && s.Sid !== '') {
      const first = sids.get(s.Sid)
      if (first) problems.push({ path: `${path}.Sid`, message: `the Sid "${s.Sid}" is already used by ${first}; Sids must be unique` })
      else sids.set(s.Sid, path)
    }
  }
  return problems
}

function exactlyOne(path: string, statement: Record<string, unknown>, a: string, b: string): GrammarProblem[] {
  const hasA = a in statement
  const hasB = b in statement
  if (hasA && hasB) return [{ path, message: `a statement takes either ${a} or ${b}, not both` }]
  if (!hasA && !hasB) return [{ path, message: `a statement needs ${a} (or ${b})` }]
  return []
}

function describe(error: ErrorObject): GrammarProblem | undefined {
  const path = jsonPath(error.instancePath)
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return { path, message: `${String(params.missingProperty)} is required` }
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      if (key === 'Principal' || key === 'NotPrincipal') {
        return { path, message: `${key} is not allowed: a session policy applies to the role's session and names no principal` }
      }
      return { path, message: `"${key}" is not a policy element here` }
    }
    case 'propertyNames':
      return undefined // reported by the pattern error on the name itself
    case 'pattern':
      return { path: namePath(error), message: patternMessage(error) }
    case 'enum':
      return { path, message: `must be ${(params.allowedValues as string[]).map((v) => `"${v}"`).join(' or ')}` }
    case 'type':
      return { path, message: `must be ${typeWords(params.type)}` }
    case 'minItems':
      return { path, message: 'must not be an empty list' }
    case 'minLength':
      return { path, message: 'must not be an empty string' }
    case 'minProperties':
      return { path, message: 'must name at least one condition key' }
    case 'if':
      return undefined // the `then` branch reports the real problem
    default:
      return { path, message: error.message ?? error.keyword }
  }
}

function patternMessage(error: ErrorObject): string {
  const pattern = String((error.params as Record<string, unknown>).pattern)
  const value = error.propertyName ?? (error.data as string)
  if (pattern === ACTION_PATTERN) return `"${value}" is not an action: write service:ActionName, for example s3:GetObject`
  if (pattern === RESOURCE_PATTERN) return `"${value}" is not a resource: write "*" or an ARN (arn:partition:service:region:account:resource)`
  if (pattern === OPERATOR_PATTERN) return `"${value}" is not a condition operator`
  return `"${value}" is not a valid Sid: use letters and digits only`
}

function namePath(error: ErrorObject): string {
  const path = jsonPath(error.instancePath)
  return error.propertyName === undefined ? path : `${path}.${error.propertyName}`
}

function typeWords(type: unknown): string {
  const words: Record<string, string> = {
    string: 'a string', array: 'a list', object: 'an object', number: 'a number', boolean: 'true or false',
  }
  const types = Array.isArray(type) ? type : String(type).split(',')
  return types.map((t) => words[t] ?? t).join(' or ')
}

/** `/Statement/0/Action` → `$.Statement[0].Action` */
export function jsonPath(instancePath: string): string {
  let path = '$'
  for (const raw of instancePath.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    path += /^\d+$/.test(part) ? `[${part}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`
  }
  return path
}

function dedupe(problems: GrammarProblem[]): GrammarProblem[] {
  const seen = new Set<string>()
  return problems.filter((p) => {
    const key = `${p.path}\n${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
