import type { Config } from '../config/types.js'
import type { PolicyEngine } from '../policy/index.js'
import type { Finding } from '../policy/findings.js'
import { annotationNames, inputsUnchanged, isGuarded } from './annotations.js'
import type { Judge } from './judge.js'
import type { Judgment, ServiceAccountRef } from './judgment.js'
import { annotationPatch } from './patch.js'
import type { AdmissionRequest, AdmissionResponse, KubeObject, ReviewOutcome } from './types.js'
import { warningTexts } from './warnings.js'

export interface ReviewDependencies {
  config: Pick<Config, 'annotationPrefix' | 'mode'>
  engine: PolicyEngine
  judge: Judge
}

export interface ReviewResult {
  response: AdmissionResponse
  outcome: ReviewOutcome
}

const SKIPPED: ReviewOutcome = { decision: 'skipped', codes: [], patched: false }

/** Whether this request is about a ServiceAccount being created or updated: the only ones judged. */
function judgedObject(request: AdmissionRequest): KubeObject | undefined {
  const kind = request.kind
  const isServiceAccount = kind?.kind === 'ServiceAccount' && (kind.group ?? '') === '' && (kind.version ?? 'v1') === 'v1'
  if (!isServiceAccount || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return undefined
  return request.object ?? undefined
}

function serviceAccountOf(request: AdmissionRequest, object: KubeObject): ServiceAccountRef {
  const metadata = object.metadata ?? {}
  return {
    namespace: request.namespace ?? metadata.namespace ?? 'default',
    name: metadata.name || request.name || `${metadata.generateName ?? ''}*`,
    annotations: { ...(metadata.annotations ?? {}) },
  }
}

/** `POST /mutate`: writes `<prefix>/normalized-policy` (or removes a stale one). Never denies. */
export function mutate(request: AdmissionRequest, { config, engine }: ReviewDependencies): ReviewResult {
  const object = judgedObject(request)
  const annotations = object?.metadata?.annotations ?? undefined
  const names = annotationNames(config.annotationPrefix)
  // A normalized policy left behind when the inputs are removed is stale: it is removed too.
  const relevant = annotations && (isGuarded(annotations, names) || names.normalizedPolicy in annotations)
  if (!object || !annotations || !relevant) return { response: { uid: request.uid, allowed: true }, outcome: SKIPPED }
  const desired = { ...annotations }
  const sessionPolicy = annotations[names.sessionPolicy]
  if (sessionPolicy === undefined) delete desired[names.normalizedPolicy]
  else {
    const normalized = engine.normalize(sessionPolicy)
    if (normalized !== null) desired[names.normalizedPolicy] = normalized // an invalid policy: /validate denies it
  }
  const operations = annotationPatch(annotations, desired)
  const response: AdmissionResponse = { uid: request.uid, allowed: true }
  if (operations.length > 0) {
    response.patchType = 'JSONPatch'
    response.patch = Buffer.from(JSON.stringify(operations)).toString('base64')
  }
  return { response, outcome: { decision: 'admitted', codes: [], patched: operations.length > 0 } }
}

/** `POST /validate`: admits or denies with every violation at once, plus warnings. */
export async function validate(request: AdmissionRequest, deps: ReviewDependencies): Promise<ReviewResult> {
  const object = judgedObject(request)
  const names = annotationNames(deps.config.annotationPrefix)
  if (!object) return { response: { uid: request.uid, allowed: true }, outcome: SKIPPED }
  const serviceAccount = serviceAccountOf(request, object)
  if (request.operation === 'UPDATE' && request.oldObject) {
    const before = request.oldObject.metadata?.annotations ?? {}
    if (inputsUnchanged(before, serviceAccount.annotations, names)) return { response: { uid: request.uid, allowed: true }, outcome: SKIPPED }
  }
  const judgment = await deps.judge(serviceAccount)
  if (!judgment.guarded) return { response: { uid: request.uid, allowed: true }, outcome: SKIPPED }
  const outcome = outcomeOf(judgment, deps.config.mode)
  return { response: responseFor(request.uid, serviceAccount, judgment, outcome, deps.config.mode), outcome }
}

function responseFor(uid: string, sa: ServiceAccountRef, judgment: Judgment, outcome: ReviewOutcome, mode: 'enforce' | 'warn'): AdmissionResponse {
  const warnings = [
    ...(mode === 'warn' ? warningTexts(judgment.violations, 'would deny: ') : []),
    ...warningTexts(judgment.warnings),
  ]
  const response: AdmissionResponse = { uid, allowed: judgment.allowed }
  if (warnings.length > 0) response.warnings = warnings
  response.auditAnnotations = {
    decision: outcome.decision,
    ...(outcome.codes.length > 0 ? { violations: outcome.codes.join(',') } : {}),
  }
  if (!judgment.allowed) {
    response.status = { code: 403, reason: 'Forbidden', message: denialMessage(sa, judgment.violations) }
  }
  return response
}

/** The text `kubectl` prints after "denied the request: ". */
export function denialMessage(sa: ServiceAccountRef, violations: Finding[]): string {
  const count = violations.length === 1 ? '1 violation' : `${violations.length} violations`
  return [`session-guard: ServiceAccount ${sa.namespace}/${sa.name} has ${count}:`, ...violations.map((v) => `[${v.code}] ${v.message}`)].join('\n')
}

function outcomeOf(judgment: Judgment, mode: 'enforce' | 'warn'): ReviewOutcome {
  const codes = [...new Set(judgment.violations.map((v) => v.code))]
  const decision = codes.length === 0 ? 'admitted' : mode === 'warn' ? 'warned' : 'denied'
  return { decision, codes, patched: false }
}
