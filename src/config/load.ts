import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { readUserFile, UnreadableInputError } from '../io/files.js'
import { checkGrammar, parsePolicy, describeProblem } from '../policy/parse.js'
import { configSchema } from './schema.js'
import type { Config, PolicyDocumentInput } from './types.js'

/** A configuration that cannot be used: the process refuses to start with this message. */
export class ConfigError extends UnreadableInputError {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

// validateSchema off: the schema is ours and tested, so the meta-schema need not be compiled at start.
const validate = new Ajv({ allErrors: true, verbose: true, useDefaults: true, strict: false, allowUnionTypes: true, validateSchema: false }).compile(configSchema)

/** Reads, validates and completes the configuration file; throws ConfigError naming every wrong key. */
export async function loadConfig(path: string): Promise<Config> {
  const text = await readUserFile(path, 'the config file')
  return parseConfig(text, path)
}

export function parseConfig(text: string, source: string): Config {
  let document: unknown
  try {
    document = parseYaml(text, { prettyErrors: true }) ?? {}
  } catch (error) {
    throw new ConfigError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  if (!validate(document)) {
    const problems = (validate.errors ?? []).map(describeError)
    throw new ConfigError(`${source} is not a valid session-guard config: ${[...new Set(problems)].join('; ')}`)
  }
  const config = document as unknown as Config
  const policyProblems = staticPolicyProblems(config)
  if (policyProblems.length > 0) throw new ConfigError(`${source}: ${policyProblems.join('; ')}`)
  return config
}

function staticPolicyProblems(config: Config): string[] {
  const problems: string[] = []
  const check = (document: PolicyDocumentInput, where: string) => {
    const parsed = typeof document === 'string' ? parsePolicy(document) : checkGrammar(document)
    if (!parsed.ok) problems.push(`${where} is not a valid policy: ${parsed.problems.map(describeProblem).join(', ')}`)
  }
  for (const [arn, role] of Object.entries(config.baseRoles.static)) {
    role.policies.forEach((doc, i) => check(doc, `baseRoles.static["${arn}"].policies[${i}]`))
    if (role.permissionsBoundary !== undefined) check(role.permissionsBoundary, `baseRoles.static["${arn}"].permissionsBoundary`)
  }
  return problems
}

function describeError(error: ErrorObject): string {
  const key = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/')).join('.') || '(top level)'
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown key ${key === '(top level)' ? '' : `${key}.`}${String(params.additionalProperty)}`
    case 'required':
      return `${key === '(top level)' ? '' : `${key}.`}${String(params.missingProperty)} is required`
    case 'enum':
      return `${key} must be one of ${(params.allowedValues as unknown[]).join(', ')}`
    case 'type':
      return `${key} must be ${String(params.type)}`
    case 'pattern':
      return `${key} has an invalid value ${JSON.stringify(error.data)}`
    case 'oneOf':
      return `${key} must be a policy document (an object or a JSON string)`
    default:
      return `${key} ${error.message ?? 'is invalid'}`
  }
}
