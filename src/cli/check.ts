import { parseArgs } from 'node:util'
import { basename } from 'node:path'
import { loadActionCatalog } from '../catalog/load.js'
import { readUserFile, UnreadableInputError } from '../io/files.js'
import { BasePolicyError, PolicyEngine, type PolicyCheck } from '../policy/index.js'
import { findingJson, formatFindings } from './format.js'
import { UsageError } from './usage.js'

export interface CheckArgs {
  basePolicies: string[]
  permissionsBoundary?: string
  sessionPolicy: string
  json: boolean
}

export function parseCheckArgs(argv: string[]): CheckArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'base-policy': { type: 'string', multiple: true },
      'permissions-boundary': { type: 'string' },
      'session-policy': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  })
  if (positionals.length > 0) throw new UsageError(`check takes no positional arguments (got ${positionals.join(' ')})`)
  const basePolicies = values['base-policy'] ?? []
  if (basePolicies.length === 0) throw new UsageError('check needs at least one --base-policy FILE')
  if (!values['session-policy']) throw new UsageError('check needs --session-policy FILE')
  const args: CheckArgs = { basePolicies, sessionPolicy: values['session-policy'], json: values.json ?? false }
  if (values['permissions-boundary']) args.permissionsBoundary = values['permissions-boundary']
  return args
}

/** `session-guard check`: returns the exit status (0 admitted, 1 denied); throws for exit 2. */
export async function runCheck(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const args = parseCheckArgs(argv)
  const policies = await Promise.all(args.basePolicies.map((file) => readUserFile(file, '--base-policy')))
  const boundary = args.permissionsBoundary
    ? await readUserFile(args.permissionsBoundary, '--permissions-boundary')
    : undefined
  const sessionPolicy = await readUserFile(args.sessionPolicy, '--session-policy')
  const engine = new PolicyEngine(await loadActionCatalog())
  let baseRole
  try {
    baseRole = engine.baseRole({
      policies,
      policyNames: args.basePolicies.map((file) => basename(file)),
      ...(boundary === undefined ? {} : { permissionsBoundary: boundary }),
    })
  } catch (error) {
    if (error instanceof BasePolicyError) throw new UnreadableInputError(error.message)
    throw error
  }
  const result = engine.check(sessionPolicy, baseRole)
  out.write(args.json ? `${JSON.stringify(checkJson(result))}\n` : formatCheck(result))
  return result.allowed ? 0 : 1
}

export function checkJson(result: PolicyCheck): Record<string, unknown> {
  return {
    allowed: result.allowed,
    normalizedPolicy: result.normalizedPolicy,
    violations: result.violations.map(findingJson),
    warnings: result.warnings.map(findingJson),
  }
}

function formatCheck(result: PolicyCheck): string {
  const n = result.violations.length
  const head = result.allowed
    ? `admitted${result.warnings.length > 0 ? ` with ${plural(result.warnings.length, 'warning')}` : ''}`
    : `denied: ${plural(n, 'violation')}`
  const blocks = [head, formatFindings(result.violations, result.warnings)]
  if (result.normalizedPolicy !== null) {
    blocks.push(`normalized policy (${result.normalizedPolicy.length} characters):\n${result.normalizedPolicy}`)
  }
  return `${blocks.filter((b) => b !== '').join('\n\n')}\n`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
