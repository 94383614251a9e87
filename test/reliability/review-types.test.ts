/**
 * Regression for a fuzz finding: Fastify's default validator coerced the types of an AdmissionReview, so
 * a numeric uid was answered as a string uid and a number, null, boolean or one-element list annotation
 * was judged as a string. Each is now a 400 that names the field.
 */
import { readFile } from 'node:fs/promises'
import Fastify from 'fastify'
import t from 'tap'
import { parseConfig } from '../../src/config/load.js'
import { createRuntime } from '../../src/runtime.js'
import admissionApp from '../../src/server/app.js'

const config = parseConfig(await readFile(new URL('../../examples/config.yaml', import.meta.url), 'utf8'), 'examples/config.yaml')
const runtime = await createRuntime(config)
const READ_ONLY = 'arn:aws:iam::111122223333:role/read-only'
const POLICY = '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}'

function review(uid: unknown, annotations: Record<string, unknown>): string {
  const object = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: 'team-a', annotations } }
  const request = { uid, operation: 'CREATE', namespace: 'team-a', kind: { group: '', version: 'v1', kind: 'ServiceAccount' }, object }
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request })
}

const wrongTypes: Array<[string, string, string]> = [
  ['a numeric uid', review(42, {}), 'body/request/uid must be string'],
  ['a boolean uid', review(true, {}), 'body/request/uid must be string'],
  ['a numeric role-arn', review('u1', { 'session-guard.dev/role-arn': 5 }), 'body/request/object/metadata/annotations/session-guard.dev~1role-arn must be string'],
  ['a null role-arn', review('u1', { 'session-guard.dev/role-arn': null }), 'body/request/object/metadata/annotations/session-guard.dev~1role-arn must be string'],
  ['a role-arn in a list', review('u1', { 'session-guard.dev/role-arn': [READ_ONLY] }), 'body/request/object/metadata/annotations/session-guard.dev~1role-arn must be string'],
  [
    'a boolean disable-session-tags',
    review('u1', { 'session-guard.dev/role-arn': READ_ONLY, 'session-guard.dev/session-policy': POLICY, 'session-guard.dev/disable-session-tags': true }),
    'body/request/object/metadata/annotations/session-guard.dev~1disable-session-tags must be string',
  ],
]

t.test('a review with a value of the wrong type is a 400, not coerced into a string', async (t) => {
  const app = Fastify()
  await app.register(admissionApp, { review: runtime })
  t.teardown(() => app.close())
  for (const url of ['/mutate', '/validate']) {
    for (const [what, payload, detail] of wrongTypes) {
      const response = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } })
      t.equal(response.statusCode, 400, `${url}: ${what} is a 400`)
      t.same(response.json(), { error: 'Bad Request', message: `not an admission.k8s.io/v1 AdmissionReview: ${detail}` }, `${url}: ${what} is named`)
    }
  }
  const strings = review('u1', { 'session-guard.dev/role-arn': READ_ONLY, 'session-guard.dev/session-policy': POLICY, 'session-guard.dev/disable-session-tags': 'true' })
  const admitted = await app.inject({ method: 'POST', url: '/validate', payload: strings, headers: { 'content-type': 'application/json' } })
  t.equal(admitted.statusCode, 200, 'the same review with strings is judged')
  t.match(admitted.json(), { response: { uid: 'u1', allowed: true } }, 'and admitted')
})
