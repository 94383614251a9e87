/**
 * What the webhook must answer to a fuzz case, and the differences between that and what it did.
 * The HTTP status follows from the body alone (415, 413, 400 for what is not JSON, poisoned or not an
 * admission.k8s.io/v1 AdmissionReview, otherwise 200). A /mutate answer is checked by applying its
 * patch; a /validate answer against the in-process judgment and the rules every denial follows.
 */
import { isDeepStrictEqual } from 'node:util'
import type { AdmissionRequest, AdmissionResponse } from '../../src/admission/types.js'
import { applyJsonPatch } from './json-patch.js'

export interface Answer {
  status: number
  contentType: string | undefined
  body: string
}

/** One POST of the fuzz. */
export interface Post {
  endpoint: '/mutate' | '/validate'
  contentType: string | null
  body: Buffer
}

export interface OracleDependencies {
  prefix: string
  mode: 'enforce' | 'warn'
  bodyLimitBytes: number
  /** `session-guard check`'s normalized policy for a session-policy text (null when it is not a policy). */
  normalizedPolicy: (sessionPolicy: string) => string | null
  /** The in-process answer of /validate to the same request. */
  referenceValidate: (request: AdmissionRequest) => Promise<AdmissionResponse>
}

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)
const stringIfPresent = (object: Json, key: string) => !Object.hasOwn(object, key) || typeof object[key] === 'string'
const CODES = new Set(['INVALID_POLICY', 'POLICY_TOO_LARGE', 'UNKNOWN_ACTION', 'ACTION_OUTSIDE_BASE_ROLE', 'SESSION_TAGS_ENABLED', 'INVALID_ROLE_ARN', 'ROLE_NOT_ALLOWED', 'BASE_ROLE_UNAVAILABLE', 'NORMALIZED_POLICY_MISMATCH'])

function isKubeObject(value: unknown): boolean {
  if (value === null) return true
  if (!isObject(value)) return false
  const metadata = value['metadata']
  if (metadata === undefined || metadata === null) return true
  if (!isObject(metadata) || !['name', 'generateName', 'namespace'].every((key) => stringIfPresent(metadata, key))) return false
  const annotations = metadata['annotations']
  return annotations === undefined || annotations === null || (isObject(annotations) && Object.values(annotations).every((v) => typeof v === 'string'))
}

/** Whether a JSON value is an AdmissionReview as the routes accept it (the contract, written out). */
export function isAdmissionReview(value: unknown): value is { request: AdmissionRequest } {
  if (!isObject(value) || value['apiVersion'] !== 'admission.k8s.io/v1' || value['kind'] !== 'AdmissionReview') return false
  const request = value['request']
  if (!isObject(request) || typeof request['uid'] !== 'string' || request['uid'] === '') return false
  if (!['operation', 'namespace', 'name'].every((key) => stringIfPresent(request, key))) return false
  if (Object.hasOwn(request, 'kind') && !isObject(request['kind'])) return false
  return ['object', 'oldObject'].every((key) => !Object.hasOwn(request, key) || isKubeObject(request[key]))
}

/** A `__proto__` key, or a `constructor` object with a `prototype`, anywhere: Fastify refuses both. */
function isPoisoned(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const node = value as Json
  if (Object.hasOwn(node, '__proto__')) return true
  const constructor = Object.hasOwn(node, 'constructor') ? node['constructor'] : undefined
  if (constructor !== null && typeof constructor === 'object' && Object.hasOwn(constructor, 'prototype')) return true
  for (const key in node) if (isPoisoned(node[key])) return true
  return false
}

/** Whether the text may hold such a key at all (written plainly or with escapes): most do not. */
const mayBePoisoned = (text: string) => text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')

export type Expected = { status: 200; review: { request: AdmissionRequest } } | { status: 400 | 413 | 415 }

export function expectedStatus(post: Post, bodyLimitBytes: number): Expected {
  const mediaType = post.contentType?.split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/json') return { status: 415 }
  if (post.body.length > bodyLimitBytes) return { status: 413 }
  let text = post.body.toString('utf8') // what the server decodes, lone surrogates replaced
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { status: 400 }
  }
  return !(mayBePoisoned(text) && isPoisoned(value)) && isAdmissionReview(value) ? { status: 200, review: value } : { status: 400 }
}

const inputKeys = (prefix: string) => ['role-arn', 'target-role-arn', 'session-policy', 'disable-session-tags'].map((key) => `${prefix}/${key}`)

/** The ServiceAccount a request judges (core v1, CREATE or UPDATE, with an object), or undefined. */
function judgedObject(request: AdmissionRequest): Json | undefined {
  const kind = request.kind
  const coreServiceAccount = kind?.kind === 'ServiceAccount' && (kind.group ?? '') === '' && (kind.version ?? 'v1') === 'v1'
  if (!coreServiceAccount || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return undefined
  return (request.object ?? undefined) as Json | undefined
}

function annotationsOf(object: unknown): Record<string, string> | undefined {
  const metadata = isObject(object) ? object['metadata'] : undefined
  const annotations = isObject(metadata) ? metadata['annotations'] : undefined
  return isObject(annotations) ? (annotations as Record<string, string>) : undefined
}

/**
 * The annotations /mutate must leave, or undefined when it must leave the object alone: on a guarded
 * ServiceAccount the normalized policy is written (an invalid policy leaves it as it is), and without a
 * session policy, or without any input annotation, a normalized policy is stale and removed.
 */
function mutatedAnnotations(request: AdmissionRequest, deps: OracleDependencies): Record<string, string> | undefined {
  const annotations = annotationsOf(judgedObject(request))
  const normalizedKey = `${deps.prefix}/normalized-policy`
  if (!annotations || ![...inputKeys(deps.prefix), normalizedKey].some((key) => Object.hasOwn(annotations, key))) return undefined
  const desired = { ...annotations }
  const sessionPolicy = Object.hasOwn(annotations, `${deps.prefix}/session-policy`) ? annotations[`${deps.prefix}/session-policy`] : undefined
  if (sessionPolicy === undefined) delete desired[normalizedKey]
  else {
    const normalized = deps.normalizedPolicy(sessionPolicy)
    if (normalized !== null) desired[normalizedKey] = normalized
  }
  return desired
}

function mutateProblems(request: AdmissionRequest, response: Json, deps: OracleDependencies): string[] {
  const desired = mutatedAnnotations(request, deps)
  const object = request.object as Json
  if (desired === undefined || isDeepStrictEqual(desired, annotationsOf(object))) {
    return isDeepStrictEqual(response, { uid: request.uid, allowed: true }) ? [] : ['expected exactly {uid, allowed: true} (nothing to patch)']
  }
  const { patch, ...rest } = response
  if (!isDeepStrictEqual(rest, { uid: request.uid, allowed: true, patchType: 'JSONPatch' }) || typeof patch !== 'string') return ['expected {uid, allowed: true, patchType: JSONPatch, patch}']
  let patched: unknown
  try {
    patched = applyJsonPatch(object, JSON.parse(Buffer.from(patch, 'base64').toString('utf8')))
  } catch (error) {
    return [`the patch does not apply: ${(error as Error).message}`]
  }
  const expected = structuredClone(object) as { metadata: Json }
  expected.metadata = { ...expected.metadata, annotations: desired }
  return isDeepStrictEqual(patched, expected) ? [] : [`the patched object is not the expected one: annotations ${JSON.stringify(annotationsOf(patched)).slice(0, 600)}, expected ${JSON.stringify(desired).slice(0, 600)}`]
}

/** Whether /validate must answer a bare admission without judging (not a ServiceAccount write, unchanged inputs, unguarded). */
function skippedByValidate(request: AdmissionRequest, prefix: string): boolean {
  const object = judgedObject(request)
  if (!object) return true
  const after = annotationsOf(object) ?? {}
  const keys = inputKeys(prefix)
  if (request.operation === 'UPDATE' && request.oldObject) {
    const before = annotationsOf(request.oldObject) ?? {}
    if (keys.every((key) => (Object.hasOwn(before, key) ? before[key] : undefined) === (Object.hasOwn(after, key) ? after[key] : undefined))) return true
  }
  return !keys.some((key) => Object.hasOwn(after, key))
}

/** `namespace/name` as a denial names the ServiceAccount (a generateName gets a `*`). */
function serviceAccountName(request: AdmissionRequest): string {
  const metadata = (isObject(request.object) && isObject(request.object['metadata']) ? request.object['metadata'] : {}) as Json
  const namespace = request.namespace ?? (metadata['namespace'] as string | undefined) ?? 'default'
  return `${namespace}/${(metadata['name'] as string | undefined) || request.name || `${(metadata['generateName'] as string | undefined) ?? ''}*`}`
}

async function validateProblems(request: AdmissionRequest, response: Json, deps: OracleDependencies): Promise<string[]> {
  const problems: string[] = []
  const reference = JSON.parse(JSON.stringify(await deps.referenceValidate(request))) as unknown
  if (!isDeepStrictEqual(response, reference)) problems.push(`differs from the in-process judgment ${JSON.stringify(reference).slice(0, 800)}`)
  if (skippedByValidate(request, deps.prefix)) {
    if (!isDeepStrictEqual(response, { uid: request.uid, allowed: true })) problems.push('expected exactly {uid, allowed: true} (not judged)')
    return problems
  }
  const annotations = annotationsOf(request.object) ?? {}
  const audit = isObject(response['auditAnnotations']) ? response['auditAnnotations'] : {}
  const codes = typeof audit['violations'] === 'string' ? audit['violations'].split(',') : []
  const expect = (code: string, when: boolean) => { if (when && !codes.includes(code)) problems.push(`${code} expected`) }
  const policy = annotations[`${deps.prefix}/session-policy`]
  expect('SESSION_TAGS_ENABLED', policy !== undefined && annotations[`${deps.prefix}/disable-session-tags`] !== 'true')
  expect('INVALID_POLICY', policy !== undefined && deps.normalizedPolicy(policy) === null)
  expect('INVALID_ROLE_ARN', annotations[`${deps.prefix}/role-arn`] === undefined)
  if (codes.some((code) => !CODES.has(code))) problems.push(`unknown codes ${codes.join(',')}`)
  const decision = codes.length === 0 ? 'admitted' : deps.mode === 'warn' ? 'warned' : 'denied'
  if (audit['decision'] !== decision || response['allowed'] !== (decision !== 'denied')) problems.push('decision, allowed and violations disagree')
  const message = isObject(response['status']) ? response['status']['message'] : undefined
  const head = `session-guard: ServiceAccount ${serviceAccountName(request)} has `
  if (decision === 'denied' && (typeof message !== 'string' || !message.startsWith(head) || codes.some((code) => !message.includes(`\n[${code}] `)))) {
    problems.push('the denial message does not name the ServiceAccount and every code')
  }
  return problems
}

function envelopeProblems(answer: Answer, request: AdmissionRequest): { problems: string[]; response?: Json } {
  let review: unknown
  try {
    review = JSON.parse(answer.body)
  } catch {
    return { problems: ['the 200 body is not JSON'] }
  }
  if (!isObject(review) || review['apiVersion'] !== 'admission.k8s.io/v1' || review['kind'] !== 'AdmissionReview' || !isObject(review['response'])) {
    return { problems: ['the 200 body is not an admission.k8s.io/v1 AdmissionReview with a response'] }
  }
  const response = review['response']
  const problems: string[] = []
  if (response['uid'] !== request.uid) problems.push(`response.uid ${JSON.stringify(response['uid'])} is not the request uid`)
  if (typeof response['allowed'] !== 'boolean') problems.push('allowed is not a boolean')
  const status = response['status']
  if (response['allowed'] === false && (!isObject(status) || status['code'] !== 403 || typeof status['message'] !== 'string' || status['message'] === '')) {
    problems.push('a denial without status.code 403 and a message')
  }
  return { problems, response }
}

/** Everything wrong with an answer (empty when it is right). */
export async function answerProblems(post: Post, answer: Answer, deps: OracleDependencies): Promise<string[]> {
  const expected = expectedStatus(post, deps.bodyLimitBytes)
  if (answer.status !== expected.status) return [`HTTP ${answer.status}, expected ${expected.status}`]
  if (!answer.contentType?.startsWith('application/json')) return [`content-type ${answer.contentType ?? 'none'}, expected JSON`]
  if (expected.status !== 200) {
    let error: unknown
    try {
      error = JSON.parse(answer.body)
    } catch {
      return ['the error body is not JSON']
    }
    const good = isObject(error) && typeof error['error'] === 'string' && typeof error['message'] === 'string' && error['message'] !== ''
    return good ? [] : ['the error body is not {error, message}']
  }
  const request = expected.review.request
  const { problems, response } = envelopeProblems(answer, request)
  if (!response) return problems
  const more = post.endpoint === '/mutate' ? mutateProblems(request, response, deps) : await validateProblems(request, response, deps)
  return [...problems, ...more]
}

/**
 * What the API server sends to /validate after /mutate answered: the review with the patch applied to
 * its object (the same body when there is no patch, or when the answer is not a patching review).
 */
export function afterMutation(post: Post, answer: Answer): Buffer {
  if (answer.status !== 200) return post.body
  try {
    const patch = (JSON.parse(answer.body) as { response?: { patch?: string } }).response?.patch
    if (patch === undefined) return post.body
    const review = JSON.parse(post.body.toString('utf8')) as { request: { object: unknown } }
    review.request.object = applyJsonPatch(review.request.object, JSON.parse(Buffer.from(patch, 'base64').toString('utf8')))
    return Buffer.from(JSON.stringify(review))
  } catch {
    return post.body // a patch that does not apply is reported by answerProblems
  }
}
