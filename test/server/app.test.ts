import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { Judge } from '../../src/admission/judge.js'
import type { AdmissionRequest } from '../../src/admission/types.js'
import { parseConfig } from '../../src/config/load.js'
import { createRuntime } from '../../src/runtime.js'
import admissionApp from '../../src/server/app.js'
import { APP_DATA, admissionReview, allow, decodedPatch, guardedAnnotations, serviceAccountRequest, testConfigYaml } from '../support/webhook.js'

const runtime = await createRuntime(parseConfig(testConfigYaml, 'test'))

async function buildApp(t: Test, options: { bodyLimit?: number; judge?: Judge; draining?: () => boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: options.bodyLimit ?? 1_048_576 })
  await app.register(admissionApp, {
    review: { ...runtime, judge: options.judge ?? runtime.judge },
    ...(options.draining ? { draining: options.draining } : {}),
  })
  t.teardown(() => app.close())
  return app
}

/** POSTs a body; `contentType: null` sends none. */
const post = (app: FastifyInstance, url: string, payload: string, contentType: string | null = 'application/json') =>
  app.inject({ method: 'POST', url, payload, headers: contentType === null ? {} : { 'content-type': contentType } })

const notAReview = (detail: string) => ({ error: 'Bad Request', message: `not an admission.k8s.io/v1 AdmissionReview: ${detail}` })

t.test('junk bodies are 400s, never a review or a 5xx', async (t) => {
  const app = await buildApp(t)
  const envelope = (request: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request })
  const sa = serviceAccountRequest('u1', 'team-a', 'sa', { 'session-guard.dev/role-arn': APP_DATA })
  const cases: Array<[string, string, unknown]> = [
    ['malformed JSON', '{"apiVersion": "admission.k8s.io/v1",', { error: 'Bad Request', message: "Body is not valid JSON but content-type is set to 'application/json'" }],
    ['an empty body', '', { error: 'Bad Request', message: "Body cannot be empty when content-type is set to 'application/json'" }],
    ['null', 'null', notAReview('body must be object')],
    ['an array', '[{"request": {"uid": "u1"}}]', notAReview('body must be object')],
    ['a string', '"AdmissionReview"', notAReview('body must be object')],
    ['a number', '42', notAReview('body must be object')],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), notAReview("body must have required property 'request'")],
    ['a null request', envelope(null), notAReview('body/request must be object')],
    ['a string request', envelope('CREATE'), notAReview('body/request must be object')],
    ['a request without uid', envelope({ operation: 'CREATE' }), notAReview("body/request must have required property 'uid'")],
    ['an empty uid', envelope({ uid: '' }), notAReview('body/request/uid must NOT have fewer than 1 characters')],
    ['admission.k8s.io/v1beta1', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u1' } }), notAReview('body/apiVersion must be equal to constant')],
    ['another kind', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'ConversionReview', request: { uid: 'u1' } }), notAReview('body/kind must be equal to constant')],
    ['a string object', envelope({ ...sa, object: 'ServiceAccount' }), notAReview('body/request/object must be object,null')],
    ['string metadata', envelope({ ...sa, object: { metadata: 'sa' } }), notAReview('body/request/object/metadata must be object,null')],
    ['list annotations', envelope({ ...sa, object: { metadata: { annotations: ['a'] } } }), notAReview('body/request/object/metadata/annotations must be object,null')],
    [
      'a session policy that is not a string',
      envelope({ ...sa, object: { metadata: { name: 'sa', annotations: { 'session-guard.dev/session-policy': { Statement: [] } } } } }),
      notAReview('body/request/object/metadata/annotations/session-guard.dev~1session-policy must be string'),
    ],
    [
      'old annotations that are not strings',
      envelope({ ...sa, operation: 'UPDATE', oldObject: { metadata: { annotations: { a: { b: 'c' } } } } }),
      notAReview('body/request/oldObject/metadata/annotations/a must be string'),
    ],
  ]
  for (const endpoint of ['/mutate', '/validate']) {
    for (const [what, payload, answer] of cases) {
      const response = await post(app, endpoint, payload)
      t.equal(response.statusCode, 400, `${endpoint}: ${what} is a 400`)
      t.same(response.json(), answer, `${endpoint}: ${what} says why`)
    }
  }
})

t.test('a body that is not JSON is a 415', async (t) => {
  const app = await buildApp(t)
  const body = JSON.stringify(admissionReview(serviceAccountRequest('u1', 'team-a', 'sa', undefined)))
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/yaml', null]) {
    const response = await post(app, '/validate', body, contentType)
    t.equal(response.statusCode, 415, `${contentType ?? 'no content-type'} is a 415`)
    t.same(response.json(), { error: 'Unsupported Media Type', message: 'Unsupported Media Type' })
  }
  const withCharset = await post(app, '/validate', body, 'application/json; charset=utf-8')
  t.equal(withCharset.statusCode, 200, 'application/json with a charset is JSON')
})

t.test('a body over the limit is a 413', async (t) => {
  const app = await buildApp(t, { bodyLimit: 1024 })
  const big = admissionReview(serviceAccountRequest('u1', 'team-a', 'sa', guardedAnnotations(APP_DATA, allow('s3:GetObject', 'arn:aws:s3:::acme-team-a/'.padEnd(1100, 'x')))))
  const response = await post(app, '/validate', JSON.stringify(big))
  t.equal(response.statusCode, 413)
  t.same(response.json(), { error: 'Payload Too Large', message: 'Request body is too large' })
  const small = await post(app, '/validate', JSON.stringify(admissionReview(serviceAccountRequest('u2', 'team-a', 'sa', undefined))))
  t.equal(small.statusCode, 200, 'a body under the limit is reviewed')
})

t.test('unknown routes and methods are 404s', async (t) => {
  const app = await buildApp(t)
  for (const [method, url] of [['GET', '/'], ['GET', '/mutate'], ['POST', '/mutate/extra'], ['POST', '/healthz'], ['GET', '/metrics'], ['PUT', '/validate']] as const) {
    const response = await app.inject({ method, url })
    t.equal(response.statusCode, 404, `${method} ${url}`)
    t.same(response.json(), { error: 'Not Found', message: `no route ${method} ${url}` })
  }
})

t.test('healthz and readyz', async (t) => {
  let draining = false
  const app = await buildApp(t, { draining: () => draining })
  const healthz = await app.inject({ method: 'GET', url: '/healthz' })
  t.same([healthz.statusCode, healthz.json()], [200, { status: 'ok' }])
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.same([ready.statusCode, ready.json()], [200, { status: 'ready' }])
  draining = true
  const drainingAnswer = await app.inject({ method: 'GET', url: '/readyz' })
  t.same([drainingAnswer.statusCode, drainingAnswer.json()], [503, { status: 'draining' }], 'not ready while draining, so no new traffic comes')
  const stillHealthy = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(stillHealthy.statusCode, 200, 'still alive while draining')
})

t.test('every answer to a valid review is a 200 AdmissionReview carrying the request uid', async (t) => {
  const throwing: Judge = async (sa) => {
    if (sa.name === 'boom') throw new Error('a bug in the judge')
    return runtime.judge(sa)
  }
  const app = await buildApp(t, { judge: throwing })
  const clean = guardedAnnotations(APP_DATA, allow('s3:GetObject', 'arn:aws:s3:::acme-team-a/*'))
  const outside = guardedAnnotations(APP_DATA, allow('s3:DeleteBucket', '*'))
  const requests: AdmissionRequest[] = [
    serviceAccountRequest('uid-unguarded', 'team-a', 'plain', undefined),
    serviceAccountRequest('uid-clean', 'team-a', 'clean', clean),
    serviceAccountRequest('uid-denied', 'team-a', 'outside', outside),
    serviceAccountRequest('uid-dry-run', 'team-a', 'outside', outside, { dryRun: true }),
    serviceAccountRequest('uid-update-unchanged', 'team-a', 'outside', outside, { operation: 'UPDATE', oldAnnotations: outside }),
    serviceAccountRequest('uid-update-changed', 'team-a', 'outside', outside, { operation: 'UPDATE', oldAnnotations: clean }),
    { ...serviceAccountRequest('uid-delete', 'team-a', 'outside', outside, { operation: 'DELETE' }), object: null },
    { ...serviceAccountRequest('uid-connect', 'team-a', 'outside', outside), operation: 'CONNECT' },
    { ...serviceAccountRequest('uid-configmap', 'team-a', 'outside', outside), kind: { group: '', version: 'v1', kind: 'ConfigMap' } },
    { uid: 'uid-bare' },
    serviceAccountRequest('uid-judge-throws', 'team-a', 'boom', clean),
  ]
  for (const endpoint of ['/mutate', '/validate']) {
    for (const request of requests) {
      const response = await post(app, endpoint, JSON.stringify(admissionReview(request)))
      t.equal(response.statusCode, 200, `${endpoint} ${request.uid}: HTTP 200`)
      const review = response.json()
      t.same([review.apiVersion, review.kind, review.response.uid], ['admission.k8s.io/v1', 'AdmissionReview', request.uid], `${endpoint} ${request.uid}: the uid comes back`)
    }
  }
})

t.test('what each kind of valid review answers', async (t) => {
  const app = await buildApp(t, { judge: async (sa) => (sa.name === 'boom' ? Promise.reject(new Error('a bug')) : runtime.judge(sa)) })
  const answer = async (endpoint: string, request: AdmissionRequest) => (await post(app, endpoint, JSON.stringify(admissionReview(request)))).json().response
  const clean = guardedAnnotations(APP_DATA, allow('s3:GetObject', 'arn:aws:s3:::acme-team-a/*'))
  const outside = guardedAnnotations(APP_DATA, allow('s3:DeleteBucket', '*'))

  t.same(await answer('/validate', serviceAccountRequest('u', 'team-a', 'sa', undefined)), { uid: 'u', allowed: true }, 'unguarded: admitted as it is')
  t.same(await answer('/validate', { ...serviceAccountRequest('u', 'team-a', 'sa', outside, { operation: 'DELETE' }), object: null }), { uid: 'u', allowed: true }, 'DELETE: admitted')
  t.same(await answer('/validate', { ...serviceAccountRequest('u', 'team-a', 'sa', outside), kind: { group: '', version: 'v1', kind: 'Secret' } }), { uid: 'u', allowed: true }, 'not a ServiceAccount: admitted')
  t.same(await answer('/validate', serviceAccountRequest('u', 'team-a', 'sa', outside, { operation: 'UPDATE', oldAnnotations: outside })), { uid: 'u', allowed: true }, 'an UPDATE leaving the inputs as they were: admitted')
  t.same(await answer('/validate', serviceAccountRequest('u', 'team-a', 'sa', clean)), { uid: 'u', allowed: true, auditAnnotations: { decision: 'admitted' } }, 'clean: admitted')
  const denied = await answer('/validate', serviceAccountRequest('u', 'team-a', 'sa', outside, { operation: 'UPDATE', oldAnnotations: clean }))
  t.same([denied.allowed, denied.status.code, denied.auditAnnotations], [false, 403, { decision: 'denied', violations: 'ACTION_OUTSIDE_BASE_ROLE' }], 'an UPDATE that changes the policy is judged')
  t.same(await answer('/validate', serviceAccountRequest('u', 'team-a', 'boom', clean)), {
    uid: 'u',
    allowed: false,
    status: { code: 500, reason: 'InternalError', message: 'session-guard could not judge this ServiceAccount (internal error); it is denied until it can. The webhook logs say why.' },
  }, 'a judge that throws fails closed, inside a 200 answer')
  t.same(await answer('/mutate', serviceAccountRequest('u', 'team-a', 'boom', clean)), { uid: 'u', allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify([{
    op: 'add',
    path: '/metadata/annotations/session-guard.dev~1normalized-policy',
    value: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-team-a/*"}]}',
  }])).toString('base64') }, 'mutate does not use the judge')
  const patched = await answer('/mutate', serviceAccountRequest('u', 'team-a', 'sa', outside))
  t.same(decodedPatch(patched), [{
    op: 'add',
    path: '/metadata/annotations/session-guard.dev~1normalized-policy',
    value: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}',
  }], 'mutate patches a policy that validate will deny: the two webhooks stay independent')
})
