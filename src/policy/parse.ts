import { grammarProblems, isObject } from './grammar.js'
import { readJson } from './json-text.js'
import { toPolicy, type Policy } from './model.js'

/** A reason a document is not a valid policy, located by JSON path and, for syntax, line and column. */
export interface PolicyProblem {
  path: string
  message: string
  line?: number
  column?: number
}

export type ParseResult = { ok: true; policy: Policy } | { ok: false; problems: PolicyProblem[] }

/** Parses and checks the grammar of a policy document given as JSON text. */
export function parsePolicy(text: string): ParseResult {
  const read = readJson(text)
  if (!read.ok) {
    const { message, line, column, path } = read.problem
    return { ok: false, problems: [{ path: path ?? '$', message: `not valid JSON: ${message}`, line, column }] }
  }
  return checkGrammar(read.value)
}

/** Checks the grammar of a policy document that is already a JavaScript value. */
export function checkGrammar(document: unknown): ParseResult {
  const problems = grammarProblems(document)
  if (problems.length > 0 || !isObject(document)) {
    return { ok: false, problems: problems.length > 0 ? problems : [{ path: '$', message: 'must be an object' }] }
  }
  return { ok: true, policy: toPolicy(document) }
}

/** One line per problem, for messages and errors: `$.Statement[0].Effect: must be "Allow" or "Deny"`. */
export function describeProblem(problem: PolicyProblem): string {
  const where = problem.line === undefined ? problem.path : `line ${problem.line}, column ${problem.column}`
  return `${where}: ${problem.message}`
}
