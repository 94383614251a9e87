/**
 * fast-check arbitraries of what the webhook fuzz POSTs: well-formed AdmissionReviews of guarded (and
 * unguarded) ServiceAccounts and of other objects and operations, and structurally broken bodies
 * (a field deleted or of the wrong type, truncated text, any JSON value, any text, the wrong
 * content-type, an empty body, a body over the limit).
 */
import fc from 'fast-check'
import { defined, sessionPolicyText, sometimes } from './fuzz-policies.js'

/** A body to POST to /mutate and then (patched, when /mutate patches it) to /validate. */
export interface FuzzCase {
  /** What kind of input this is, for the report. */
  family: string
  contentType: string | null
  body: Buffer
}

export interface FuzzOptions {
  prefix: string
  bodyLimitBytes: number
  /** The normalization of a policy text (or null), so that some reviews carry a correct annotation. */
  normalize: (policy: string) => string | null
}

const APP_DATA = 'arn:aws:iam::111122223333:role/app-data'
const READ_ONLY = 'arn:aws:iam::111122223333:role/read-only'
const roleArn = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(APP_DATA, READ_ONLY) },
  { weight: 3, arbitrary: fc.constantFrom('arn:aws:iam::111122223333:role/unknown', 'arn:aws:iam::444455556666:role/cross', 'arn:aws:iam::111122223333:role/team/read-only', 'arn:aws-cn:iam::111122223333:role/read-only') },
  { weight: 2, arbitrary: fc.constantFrom('arn:aws:iam::111122223333:user/bob', 'not-an-arn', '', ' arn:aws:iam::111122223333:role/read-only', 'arn:aws:iam::1111:role/x') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
)
const namespace = fc.oneof({ weight: 10, arbitrary: fc.constantFrom('team-a', 'team-payments', 'default', 'kube-system') }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) })
const name = fc.oneof({ weight: 10, arbitrary: fc.constantFrom('app', 'worker', 'sa-1') }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) })

const otherAnnotationKey = (prefix: string) => fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(`${prefix}/session-polcy`, `${prefix}/Role-Arn`, `${prefix}/`, `${prefix}/role-arn/x`, 'session-guard.io/role-arn', 'eks.amazonaws.com/role-arn') },
  { weight: 2, arbitrary: fc.constantFrom('kubectl.kubernetes.io/last-applied-configuration', 'a/b~c', '~1', '~0/~', '/', '') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
)

function annotations({ prefix, normalize }: FuzzOptions): fc.Arbitrary<Record<string, string>> {
  const inputs = fc.record({
    role: sometimes(roleArn, 0.88),
    target: sometimes(roleArn, 0.1),
    policy: sometimes(sessionPolicyText, 0.8),
    tags: sometimes(fc.oneof({ weight: 12, arbitrary: fc.constant('true') }, { weight: 1, arbitrary: fc.constantFrom('false', 'TRUE', '', ' true', '1') }), 0.85),
    normalized: sometimes(fc.constantFrom('correct', 'correct', 'stale', ''), 0.3),
    association: sometimes(fc.string({ maxLength: 20 }), 0.05),
  })
  const others = fc.dictionary(otherAnnotationKey(prefix), fc.string({ unit: 'binary', maxLength: 30 }), { maxKeys: 3 })
  return fc.tuple(inputs, others).map(([input, other]) => {
    // 'correct' is the normalization of the policy; without a policy it stays a stray value.
    const normalized = input.normalized === 'correct' && input.policy !== undefined ? normalize(input.policy) : input.normalized
    return {
      ...other,
      ...defined({
        [`${prefix}/role-arn`]: input.role,
        [`${prefix}/target-role-arn`]: input.target,
        [`${prefix}/session-policy`]: input.policy,
        [`${prefix}/disable-session-tags`]: input.tags,
        [`${prefix}/normalized-policy`]: normalized === 'stale' ? '{"Statement":[]}' : (normalized ?? undefined),
        [`${prefix}/association-id`]: input.association,
      }),
    } as Record<string, string>
  })
}

function kubeObject(options: FuzzOptions) {
  const metadata = fc.record({
    name: sometimes(name, 0.9),
    generateName: sometimes(fc.constant('app-'), 0.05),
    namespace: sometimes(namespace, 0.6),
    uid: sometimes(fc.uuid(), 0.5),
    labels: sometimes(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }), 0.2),
    annotations: fc.oneof({ weight: 20, arbitrary: annotations(options) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.constantFrom(undefined, null, {}) }),
  }).map(defined)
  return fc.record({
    apiVersion: fc.constant('v1'),
    kind: fc.constant('ServiceAccount'),
    metadata: fc.oneof({ weight: 30, arbitrary: metadata as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.constantFrom(undefined, null) }),
    automountServiceAccountToken: sometimes(fc.boolean(), 0.1),
  }).map(defined)
}

const requestKind = fc.oneof(
  { weight: 30, arbitrary: fc.constant<unknown>({ group: '', version: 'v1', kind: 'ServiceAccount' }) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>({ version: 'v1', kind: 'ServiceAccount' }, { kind: 'ServiceAccount' }, { group: null, version: 'v1', kind: 'ServiceAccount' }) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>({ group: 'apps', version: 'v1', kind: 'ServiceAccount' }, { group: '', version: 'v2', kind: 'ServiceAccount' }, { group: '', version: 'v1', kind: 'Pod' }, {}, undefined) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('group', 'version', 'kind'), fc.jsonValue({ maxDepth: 1 })) },
)

/** A well-formed admission.k8s.io/v1 AdmissionReview (as a value). */
export function admissionReview(options: FuzzOptions): fc.Arbitrary<Record<string, unknown>> {
  const object = kubeObject(options)
  const request = fc.record({
    uid: fc.oneof({ weight: 10, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) }),
    kind: requestKind,
    namespace: sometimes(namespace, 0.9),
    name: sometimes(name, 0.5),
    operation: sometimes(fc.oneof({ weight: 40, arbitrary: fc.constantFrom('CREATE', 'UPDATE', 'DELETE') }, { weight: 1, arbitrary: fc.constantFrom('CONNECT', 'create', 'PATCH', '') }), 0.98),
    dryRun: sometimes(fc.boolean(), 0.3),
    object,
    oldObject: object,
    oldSame: fc.boolean(),
  }).map(({ oldSame, ...request }) => {
    if (request.operation === 'DELETE') return defined({ ...request, object: null })
    if (request.operation !== 'UPDATE') return defined({ ...request, oldObject: oldSame ? null : undefined })
    // An UPDATE either leaves the inputs as they were (a status write) or changes them.
    return defined({ ...request, oldObject: oldSame ? structuredClone(request.object) : request.oldObject })
  })
  return request.map((body) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: body }))
}

/** Every path in a JSON value, root first. */
function pathsOf(value: unknown, path: Array<string | number> = [], into: Array<Array<string | number>> = []): Array<Array<string | number>> {
  into.push(path)
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) pathsOf(child, [...path, Array.isArray(value) ? Number(key) : key], into)
  }
  return into
}

/** The review with one value deleted or replaced (often by one of the wrong type). */
function broken(review: Record<string, unknown>, at: number, replacement: unknown, remove: boolean): unknown {
  const paths = pathsOf(review)
  const path = paths[at % paths.length] as Array<string | number>
  if (path.length === 0) return replacement
  const copy = structuredClone(review) as Record<string | number, unknown>
  let parent = copy
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
  const last = path[path.length - 1] as string | number
  if (remove && !Array.isArray(parent)) delete parent[last]
  else parent[last] = replacement
  return copy
}

const JSON_TYPE = 'application/json'

/** Every kind of body the fuzz sends, weighted towards well-formed reviews. */
export function fuzzCase(options: FuzzOptions): fc.Arbitrary<FuzzCase> {
  const review = admissionReview(options)
  const json = (family: string, value: fc.Arbitrary<unknown>, contentType: fc.Arbitrary<string | null> = fc.constant(JSON_TYPE)) =>
    fc.tuple(value, contentType).map(([body, type]) => ({ family, contentType: type, body: Buffer.from(JSON.stringify(body) ?? 'null') }))
  const raw = (family: string, text: fc.Arbitrary<string>) => text.map((body) => ({ family, contentType: JSON_TYPE, body: Buffer.from(body) }))
  const replacement = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom<unknown>(null, 0, '', 'admission.k8s.io/v1beta1', [], {}, true))
  // Weights per 10,000: a body near the 1 MB limit costs a thousand ordinary ones, so it is rare.
  return fc.oneof(
    { weight: 6_200, arbitrary: json('well-formed review', review, fc.constantFrom(JSON_TYPE, JSON_TYPE, JSON_TYPE, 'application/json; charset=utf-8')) },
    { weight: 2_000, arbitrary: json('broken review', fc.tuple(review, fc.nat(), replacement, fc.boolean()).map(([r, at, value, remove]) => broken(r, at, value, remove))) },
    { weight: 600, arbitrary: raw('truncated review', fc.tuple(review, fc.nat()).map(([r, at]) => { const text = JSON.stringify(r); return text.slice(0, at % text.length) })) },
    { weight: 500, arbitrary: json('any JSON value', fc.jsonValue({ maxDepth: 4 })) },
    { weight: 200, arbitrary: raw('any text', fc.string({ unit: 'binary', minLength: 1, maxLength: 80 })) },
    { weight: 300, arbitrary: json('review with another content-type', review, fc.constantFrom<string | null>('text/plain', 'application/yaml', 'application/x-www-form-urlencoded', null)) },
    { weight: 100, arbitrary: raw('empty body', fc.constant('')) },
    { weight: 2, arbitrary: json('review near the body limit', fc.tuple(review, fc.constantFrom(-100_000, 0, 1, 100_000)).map(([r, over]) => padded(r, options, over))) },
  )
}

/** The review with a padding annotation that makes its JSON exactly `over` bytes longer than the limit. */
function padded(review: Record<string, unknown>, { bodyLimitBytes }: FuzzOptions, over: number): unknown {
  const copy = structuredClone(review) as { request: { object?: { metadata?: { annotations?: Record<string, string> } } } }
  const metadata = { ...copy.request.object?.metadata, annotations: { ...copy.request.object?.metadata?.annotations, 'example.com/padding': '' } }
  copy.request.object = { ...copy.request.object, metadata }
  metadata.annotations['example.com/padding'] = 'p'.repeat(Math.max(0, bodyLimitBytes + over - Buffer.byteLength(JSON.stringify(copy))))
  return copy
}
