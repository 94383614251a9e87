import { parseArgs } from 'node:util'
import type { Judgment, ServiceAccountRef } from '../admission/judgment.js'
import { mutate } from '../admission/review.js'
import type { JsonPatchOperation } from '../admission/types.js'
import { loadConfig } from '../config/load.js'
import { listFiles, readUserFile } from '../io/files.js'
import { createRuntime, type Runtime } from '../runtime.js'
import { findingJson, formatFindings } from './format.js'
import { serviceAccountsIn } from './manifests.js'
import { UsageError } from './usage.js'

export interface ReviewArgs {
  config: string
  json: boolean
  paths: string[]
}

export function parseReviewArgs(argv: string[]): ReviewArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: true,
  })
  if (!values.config) throw new UsageError('review needs --config FILE')
  if (positionals.length === 0) throw new UsageError('review needs at least one manifest file or folder')
  return { config: values.config, json: values.json ?? false, paths: positionals }
}

interface Reviewed {
  file: string
  serviceAccount: ServiceAccountRef
  judgment: Judgment
}

const manifestName = (name: string) => /\.(ya?ml|json)$/i.test(name)

/**
 * `session-guard review`: every ServiceAccount in the manifests, judged as the webhook judges a CREATE.
 * Returns 0 when all are admitted, 1 when any is denied; throws for exit 2 (usage, input, config).
 */
export async function runReview(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const args = parseReviewArgs(argv)
  const config = await loadConfig(args.config)
  // Read and parse every manifest before judging, so that a broken file stops the run with nothing printed.
  const found: Array<{ file: string; serviceAccount: ServiceAccountRef }> = []
  for (const file of await listFiles(args.paths, manifestName)) {
    const text = await readUserFile(file, 'the manifest')
    for (const serviceAccount of serviceAccountsIn(text, file)) found.push({ file, serviceAccount })
  }
  const runtime = await createRuntime(config)
  const reviewed: Reviewed[] = []
  for (const { file, serviceAccount } of found) {
    reviewed.push({ file, serviceAccount, judgment: await runtime.judge(asMutated(serviceAccount, runtime)) })
  }
  out.write(args.json ? `${JSON.stringify(reviewed.map(reviewJson))}\n` : formatReview(reviewed))
  return reviewed.every((r) => r.judgment.allowed) ? 0 : 1
}

/**
 * The ServiceAccount as /validate sees it on a CREATE: after /mutate has written (or removed) the
 * normalized policy. A manifest exported from a cluster with a stale normalized-policy is then admitted
 * here as `kubectl apply` would admit it, not denied with NORMALIZED_POLICY_MISMATCH.
 */
function asMutated(serviceAccount: ServiceAccountRef, runtime: Runtime): ServiceAccountRef {
  const { response } = mutate({
    uid: 'session-guard-review',
    kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
    operation: 'CREATE',
    namespace: serviceAccount.namespace,
    name: serviceAccount.name,
    object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount.name, namespace: serviceAccount.namespace, annotations: serviceAccount.annotations } },
  }, runtime)
  if (response.patch === undefined) return serviceAccount
  const annotations = { ...serviceAccount.annotations }
  for (const operation of JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as JsonPatchOperation[]) {
    const key = annotationKey(operation.path)
    if (operation.op === 'remove') delete annotations[key]
    else annotations[key] = String(operation.value)
  }
  return { ...serviceAccount, annotations }
}

/** The annotation a patch path points at (RFC 6901 unescaped); mutate patches nothing else here. */
function annotationKey(path: string): string {
  const prefix = '/metadata/annotations/'
  if (!path.startsWith(prefix)) throw new Error(`unexpected patch path ${path}`)
  return path.slice(prefix.length).replace(/~1/g, '/').replace(/~0/g, '~')
}

function reviewJson({ serviceAccount, judgment }: Reviewed): Record<string, unknown> {
  return {
    namespace: serviceAccount.namespace,
    name: serviceAccount.name,
    allowed: judgment.allowed,
    violations: judgment.violations.map(findingJson),
    warnings: judgment.warnings.map(findingJson),
    normalizedPolicy: judgment.normalizedPolicy,
  }
}

function formatReview(reviewed: Reviewed[]): string {
  if (reviewed.length === 0) return 'no ServiceAccounts found\n'
  const blocks = reviewed.map(({ file, serviceAccount, judgment }) => {
    const mark = judgment.allowed ? '✓' : '✗'
    // In `mode: warn` a ServiceAccount with violations is admitted; say so, or the ✓ would mislead.
    const note = judgment.allowed && judgment.violations.length > 0 ? ', admitted only because mode is warn' : ''
    const head = `${mark} ${serviceAccount.namespace}/${serviceAccount.name}  (${file}${note})`
    const findings = formatFindings(judgment.violations, judgment.warnings, '    ')
    return findings === '' ? head : `${head}\n${findings}`
  })
  const denied = reviewed.filter((r) => !r.judgment.allowed).length
  const total = `${reviewed.length} ServiceAccount${reviewed.length === 1 ? '' : 's'}`
  return `${blocks.join('\n\n')}\n\n${total}: ${reviewed.length - denied} admitted, ${denied} denied\n`
}
