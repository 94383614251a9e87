import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { mutate, validate } from '../../src/admission/review.js'
import type { AdmissionRequest } from '../../src/admission/types.js'
import { a, APP_ROLE, baseConfig, reviewDeps, serviceAccountRequest } from './harness.js'

const deps = await reviewDeps()
const folder = new URL('../fixtures/admission/', import.meta.url)

// Each fixture carries an AdmissionReview request, the endpoint, and the exact response expected.
for (const file of readdirSync(folder).filter((f) => f.endsWith('.json')).sort()) {
  const fixture = JSON.parse(readFileSync(new URL(file, folder), 'utf8')) as {
    endpoint: 'mutate' | 'validate'
    review: { request: AdmissionRequest }
    response: unknown
  }
  t.test(file.replace(/\.json$/, ''), async (t) => {
    const result = fixture.endpoint === 'mutate' ? mutate(fixture.review.request, deps) : await validate(fixture.review.request, deps)
    t.same(result.response, fixture.response)
  })
}

t.test('warn mode admits with the would-be denials as warnings', async (t) => {
  const warnDeps = await reviewDeps({ ...baseConfig, mode: 'warn' })
  const result = await validate(serviceAccountRequest({ [a('role-arn')]: APP_ROLE, [a('session-policy')]: '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}' }), warnDeps)
  t.same(result.response, {
    uid: 'c0ffee00-0000-4000-8000-000000000001',
    allowed: true,
    warnings: ['would deny: SESSION_TAGS_ENABLED: session-guard.dev/disable-session-tags must be "true" when session-guard.dev/session-policy is set (it is not set): EKS refuses a session policy while session tags are enabled'],
    auditAnnotations: { decision: 'warned', violations: 'SESSION_TAGS_ENABLED' },
  })
  t.same(result.outcome, { decision: 'warned', codes: ['SESSION_TAGS_ENABLED'], patched: false })
})

t.test('mutate adds the whole annotations map when it is absent', async (t) => {
  const { annotationPatch } = await import('../../src/admission/patch.js')
  t.same(annotationPatch(undefined, { 'a/b': 'x' }), [{ op: 'add', path: '/metadata/annotations', value: { 'a/b': 'x' } }])
  t.same(annotationPatch(null, {}), [])
  t.same(annotationPatch({ 'a~b/c': '1' }, { 'a~b/c': '2' }), [{ op: 'replace', path: '/metadata/annotations/a~0b~1c', value: '2' }])
})

t.test('warnings respect the Kubernetes limits', async (t) => {
  const { warningTexts } = await import('../../src/admission/warnings.js')
  const long = { code: 'X', message: 'y'.repeat(400) }
  const texts = warningTexts(Array.from({ length: 40 }, () => long))
  t.equal(texts[0]?.length, 256, 'each is cut at 256 characters')
  t.ok(texts.join('').length < 4096, 'all together under 4 KiB')
  t.equal(texts.at(-1), '…and 25 more warnings; run `session-guard review` to see them all')
})
