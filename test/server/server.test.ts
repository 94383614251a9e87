import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import type { Judge } from '../../src/admission/judge.js'
import type { AdmissionRequest } from '../../src/admission/types.js'
import { parseConfig } from '../../src/config/load.js'
import { createRuntime, type Runtime } from '../../src/runtime.js'
import { WebhookMetrics } from '../../src/server/metrics.js'
import { startWebhookServer, type WebhookServer } from '../../src/server/server.js'
import {
  APP_DATA,
  TAGGED,
  allow,
  decodedPatch,
  fingerprint,
  guardedAnnotations,
  httpsRequest,
  issueServingCertificate,
  makeCertificateAuthority,
  postReview,
  serviceAccountRequest,
  testConfigYaml,
  type KeyPair,
} from '../support/webhook.js'

const runtime = await createRuntime(parseConfig(testConfigYaml, 'test'))
const ca = await makeCertificateAuthority()
const serving = await issueServingCertificate(ca)
const trusted = { ca: ca.cert }
const normalizedAnnotation = '/metadata/annotations/session-guard.dev~1normalized-policy'

type LogLine = Record<string, unknown> & { msg: string }

interface Started {
  server: WebhookServer
  logs: LogLine[]
}

/** Starts the HTTPS server on a free loopback port, its logs collected as objects. */
async function start(t: Test, options: { runtime?: Runtime; judge?: Judge; metrics?: WebhookMetrics; tls?: KeyPair; tlsFiles?: { certFile: string; keyFile: string } } = {}): Promise<Started> {
  const logs: LogLine[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine)
      done()
    },
  })
  const server = await startWebhookServer({
    review: { ...(options.runtime ?? runtime), judge: options.judge ?? (options.runtime ?? runtime).judge },
    tls: options.tls ?? serving,
    ...(options.tlsFiles ? { tlsFiles: options.tlsFiles, tlsReloadIntervalMs: 50 } : {}),
    port: 0,
    host: '127.0.0.1',
    bodyLimitBytes: 1_048_576,
    ...(options.metrics ? { metrics: options.metrics, metricsPort: 0 } : {}),
    logger: pino({ level: 'info' }, sink),
  })
  t.teardown(() => server.close())
  return { server, logs }
}

t.test('a denial is a 200 AdmissionReview with status 403 and every violation in its message', async (t) => {
  const { server } = await start(t)
  const outside = guardedAnnotations(APP_DATA, allow(['s3:GetObject', 'dynamodb:PutItem', 's3:DeleteObject'], '*'))
  const answer = await postReview(server.port, '/validate', serviceAccountRequest('uid-1', 'team-a', 'writer', outside), trusted)
  t.equal(answer.status, 200)
  t.equal(answer.peerFingerprint, fingerprint(serving.cert), 'served the configured certificate, verified against the CA')
  t.same(answer.review, {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid: 'uid-1',
      allowed: false,
      auditAnnotations: { decision: 'denied', violations: 'ACTION_OUTSIDE_BASE_ROLE' },
      status: {
        code: 403,
        reason: 'Forbidden',
        message: 'session-guard: ServiceAccount team-a/writer has 1 violation:\n[ACTION_OUTSIDE_BASE_ROLE] session-guard.dev/session-policy: the session policy allows 2 actions the base role does not: dynamodb:PutItem, s3:DeleteObject are not in the role. A session policy can only narrow the role: remove them, or use a role that allows them',
      },
    },
  })

  const several = { 'session-guard.dev/role-arn': APP_DATA, 'session-guard.dev/target-role-arn': 'nope', 'session-guard.dev/session-policy': '{"Statement": [' }
  const many = await postReview(server.port, '/validate', serviceAccountRequest('uid-2', 'sandbox', 'multi', several), trusted)
  t.same(many.review.response, {
    uid: 'uid-2',
    allowed: false,
    auditAnnotations: { decision: 'denied', violations: 'ROLE_NOT_ALLOWED,INVALID_ROLE_ARN,SESSION_TAGS_ENABLED,INVALID_POLICY' },
    status: {
      code: 403,
      reason: 'Forbidden',
      message: [
        'session-guard: ServiceAccount sandbox/multi has 4 violations:',
        '[ROLE_NOT_ALLOWED] session-guard.dev/role-arn: namespace sandbox may not use arn:aws:iam::111122223333:role/app-data (guardrails.allowedRoles grants it no such role); pick a role granted to sandbox or ask the cluster admins',
        '[INVALID_ROLE_ARN] session-guard.dev/target-role-arn is "nope", which is not an IAM role ARN: write arn:aws:iam::ACCOUNT:role/NAME',
        '[SESSION_TAGS_ENABLED] session-guard.dev/disable-session-tags must be "true" when session-guard.dev/session-policy is set (it is not set): EKS refuses a session policy while session tags are enabled',
        '[INVALID_POLICY] session-guard.dev/session-policy: the session policy is not a valid IAM policy: line 1, column 16: not valid JSON: expected a value but found the end of the document',
      ].join('\n'),
    },
  }, 'every violation at once')
})

t.test('mutate answers a JSON Patch that sets the normalized policy', async (t) => {
  const { server } = await start(t)
  const policy = { Statement: [{ Resource: 'arn:aws:s3:::acme-team-a/*', Action: ['s3:GetObject', 's3:GetObject'], Effect: 'Allow' }], Version: '2012-10-17' }
  const normalized = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-team-a/*"}]}'
  const annotations = guardedAnnotations(APP_DATA, policy)

  const added = await postReview(server.port, '/mutate', serviceAccountRequest('uid-m1', 'team-a', 'reader', annotations), trusted)
  t.equal(added.status, 200)
  t.same(added.review.response, { uid: 'uid-m1', allowed: true, patchType: 'JSONPatch', patch: added.review.response.patch })
  t.same(decodedPatch(added.review.response), [{ op: 'add', path: normalizedAnnotation, value: normalized }])

  const stale = { ...annotations, 'session-guard.dev/normalized-policy': '{"Version":"2012-10-17","Statement":[]}' }
  const replaced = await postReview(server.port, '/mutate', serviceAccountRequest('uid-m2', 'team-a', 'reader', stale, { operation: 'UPDATE', oldAnnotations: stale }), trusted)
  t.same(decodedPatch(replaced.review.response), [{ op: 'replace', path: normalizedAnnotation, value: normalized }], 'a stale value is replaced')

  const current = { ...annotations, 'session-guard.dev/normalized-policy': normalized }
  const unchanged = await postReview(server.port, '/mutate', serviceAccountRequest('uid-m3', 'team-a', 'reader', current), trusted)
  t.same(unchanged.review.response, { uid: 'uid-m3', allowed: true }, 'no patch on reinvocation')

  const orphan = { 'session-guard.dev/role-arn': APP_DATA, 'session-guard.dev/normalized-policy': normalized }
  const removed = await postReview(server.port, '/mutate', serviceAccountRequest('uid-m4', 'team-a', 'reader', orphan), trusted)
  t.same(decodedPatch(removed.review.response), [{ op: 'remove', path: normalizedAnnotation }], 'a normalized policy without a session policy is removed')
})

t.test('a dry run is judged exactly as the real request', async (t) => {
  const { server } = await start(t)
  const cases = {
    denied: guardedAnnotations(APP_DATA, allow('dynamodb:PutItem', '*')),
    warned: guardedAnnotations(TAGGED, allow('s3:GetObject', 'arn:aws:s3:::other/*')),
    clean: guardedAnnotations(APP_DATA, allow('s3:GetObject', 'arn:aws:s3:::acme-team-a/*')),
  }
  for (const [what, annotations] of Object.entries(cases)) {
    for (const endpoint of ['/mutate', '/validate'] as const) {
      const real = await postReview(server.port, endpoint, serviceAccountRequest('uid', 'team-a', 'sa', annotations), trusted)
      const dry = await postReview(server.port, endpoint, serviceAccountRequest('uid', 'team-a', 'sa', annotations, { dryRun: true }), trusted)
      t.same(dry.review, real.review, `${endpoint} ${what}: the same answer`)
    }
  }
})

t.test('an admitted review carries its warnings', async (t) => {
  const { server } = await start(t)
  const annotations = guardedAnnotations(TAGGED, allow('s3:GetObject', 'arn:aws:s3:::other/*'))
  const answer = await postReview(server.port, '/validate', serviceAccountRequest('uid-w', 'team-a', 'reader', annotations), trusted)
  t.same(answer.review.response, {
    uid: 'uid-w',
    allowed: true,
    warnings: [
      'RESOURCE_OUTSIDE_BASE_ROLE: statement 1: the base role never allows its actions on arn:aws:s3:::other/*, so it grants nothing there',
      'SESSION_TAG_CONDITION_DISABLED: base role policy 1, statement "OwnPrefix" uses aws:PrincipalTag/kubernetes-namespace: EKS does not set that tag with session tags disabled, so the statement stops matching',
    ],
    auditAnnotations: { decision: 'admitted' },
  })
})

t.test('in mode: warn a would-be denial is admitted with its violations as warnings', async (t) => {
  const warnRuntime = await createRuntime(parseConfig(testConfigYaml.replace('mode: enforce', 'mode: warn'), 'test'))
  const { server } = await start(t, { runtime: warnRuntime })
  const annotations = { ...guardedAnnotations(TAGGED, allow(['s3:GetObject', 'sqs:SendMessage'], 'arn:aws:s3:::other/*')), 'session-guard.dev/disable-session-tags': 'yes' }
  const answer = await postReview(server.port, '/validate', serviceAccountRequest('uid-warn', 'sandbox', 'audited', annotations), trusted)
  t.same(answer.review.response, {
    uid: 'uid-warn',
    allowed: true,
    warnings: [
      'would deny: ROLE_NOT_ALLOWED: session-guard.dev/role-arn: namespace sandbox may not use arn:aws:iam::111122223333:role/tagged (guardrails.allowedRoles grants it no such role); pick a role granted to sandbox or ask the cluster admins',
      'would deny: SESSION_TAGS_ENABLED: session-guard.dev/disable-session-tags must be "true" when session-guard.dev/session-policy is set (it is "yes"): EKS refuses a session policy while session tags are enabled',
    ],
    auditAnnotations: { decision: 'warned', violations: 'ROLE_NOT_ALLOWED,SESSION_TAGS_ENABLED' },
  })
})

t.test('one log line per review, without the policy', async (t) => {
  const { server, logs } = await start(t)
  const annotations = guardedAnnotations(APP_DATA, allow('dynamodb:PutItem', 'arn:aws:dynamodb:eu-west-1:111122223333:table/secret-table-name'))
  await postReview(server.port, '/validate', serviceAccountRequest('uid-log', 'team-a', 'logged', annotations), trusted)
  const reviews = logs.filter((line) => line.msg === 'admission review')
  t.equal(reviews.length, 1)
  const { durationMs, ...line } = reviews[0] as LogLine
  t.type(durationMs, 'number')
  t.match(line, {
    level: 30,
    uid: 'uid-log',
    namespace: 'team-a',
    name: 'logged',
    operation: 'CREATE',
    endpoint: 'validate',
    decision: 'denied',
    codes: ['ACTION_OUTSIDE_BASE_ROLE'],
    patched: false,
  })
  t.notMatch(JSON.stringify(logs), 'secret-table-name', 'no policy text in the logs')
})

t.test('metrics count reviews by endpoint, operation, decision and code', async (t) => {
  const metrics = new WebhookMetrics()
  const { server } = await start(t, { metrics })
  t.type(server.metricsPort, 'number')
  const send = (endpoint: '/mutate' | '/validate', request: AdmissionRequest) => postReview(server.port, endpoint, request, trusted)
  const clean = guardedAnnotations(APP_DATA, allow('s3:GetObject', 'arn:aws:s3:::acme-team-a/*'))
  await send('/validate', serviceAccountRequest('1', 'team-a', 'clean', clean))
  await send('/validate', serviceAccountRequest('2', 'team-a', 'clean-again', clean))
  await send('/validate', serviceAccountRequest('3', 'sandbox', 'two-codes', { 'session-guard.dev/role-arn': APP_DATA, 'session-guard.dev/session-policy': JSON.stringify(allow('s3:GetObject', '*')) }))
  await send('/validate', serviceAccountRequest('4', 'team-a', 'plain', undefined))
  await send('/validate', { ...serviceAccountRequest('5', 'team-a', 'odd', clean), operation: 'FROBNICATE-1234' })
  await send('/mutate', serviceAccountRequest('6', 'team-a', 'clean', clean))

  const answer = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)
  t.equal(answer.status, 200)
  t.match(answer.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await answer.text()
  const series = (name: string) => text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `)).sort()
  t.same(series('session_guard_admission_requests_total'), [
    'session_guard_admission_requests_total{endpoint="mutate",operation="CREATE",decision="admitted",code="none"} 1',
    'session_guard_admission_requests_total{endpoint="validate",operation="CREATE",decision="admitted",code="none"} 2',
    'session_guard_admission_requests_total{endpoint="validate",operation="CREATE",decision="denied",code="ROLE_NOT_ALLOWED"} 1',
    'session_guard_admission_requests_total{endpoint="validate",operation="CREATE",decision="denied",code="SESSION_TAGS_ENABLED"} 1',
    'session_guard_admission_requests_total{endpoint="validate",operation="CREATE",decision="skipped",code="none"} 1',
    'session_guard_admission_requests_total{endpoint="validate",operation="OTHER",decision="skipped",code="none"} 1',
  ], 'an unknown operation is counted as OTHER, not as a new series')
  t.same(series('session_guard_admission_review_duration_seconds_count'), [
    'session_guard_admission_review_duration_seconds_count{endpoint="mutate"} 1',
    'session_guard_admission_review_duration_seconds_count{endpoint="validate"} 5',
  ])
  for (const help of ['session_guard_base_role_cache_total', 'session_guard_iam_errors_total', 'session_guard_process_resident_memory_bytes']) {
    t.ok(text.includes(`# HELP ${help} `), `${help} is exported`)
  }
  const elsewhere = await fetch(`http://127.0.0.1:${server.metricsPort}/`)
  t.same([elsewhere.status, await elsewhere.text()], [404, 'not found: metrics are at GET /metrics\n'])
})

t.test('a rotated certificate reaches new connections with no failed request', async (t) => {
  // Laid out as kubelet mounts a Secret: tls.crt → ..data/tls.crt, ..data → a timestamped folder.
  const dir = mkdtempSync(join(tmpdir(), 'sg-tls-'))
  const writePair = (folder: string, pair: KeyPair) => {
    mkdirSync(join(dir, folder))
    writeFileSync(join(dir, folder, 'tls.crt'), pair.cert)
    writeFileSync(join(dir, folder, 'tls.key'), pair.key)
  }
  writePair('..2026_01', serving)
  symlinkSync('..2026_01', join(dir, '..data'))
  symlinkSync('..data/tls.crt', join(dir, 'tls.crt'))
  symlinkSync('..data/tls.key', join(dir, 'tls.key'))
  const tlsFiles = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }
  const { server, logs } = await start(t, { tlsFiles })
  const [second, third] = [await issueServingCertificate(ca, 'second'), await issueServingCertificate(ca, 'third')]

  // Requests run all along: new connections, and one kube-apiserver-like keep-alive connection.
  const seen = new Set<string>()
  const failures: unknown[] = []
  let answered = 0
  let running = true
  const annotations = guardedAnnotations(APP_DATA, allow('s3:GetObject', 'arn:aws:s3:::acme-team-a/*'))
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => keepAlive.destroy())
  const worker = async (agent: Agent | false) => {
    for (let i = 0; running; i++) {
      try {
        const answer = await postReview(server.port, '/validate', serviceAccountRequest(`uid-${i}`, 'team-a', 'sa', annotations), { ...trusted, agent })
        if (answer.status !== 200 || answer.review.response.uid !== `uid-${i}` || !answer.review.response.allowed) failures.push(answer.body)
        seen.add(answer.peerFingerprint)
        answered++
      } catch (error) {
        failures.push(error)
      }
    }
  }
  const workers = [worker(false), worker(false), worker(keepAlive)]
  const newConnection = async () => (await httpsRequest(server.port, '/readyz', trusted)).peerFingerprint
  const servedWithin = async (pair: KeyPair, ms: number) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if ((await newConnection()) === fingerprint(pair.cert)) return true
      await sleep(20)
    }
    return false
  }

  await sleep(200)
  t.equal(await newConnection(), fingerprint(serving.cert), 'the first certificate to begin with')

  // In place and not atomic: for a while the certificate is new and the key is old.
  writeFileSync(join(dir, '..2026_01', 'tls.crt'), second.cert)
  await sleep(400)
  t.equal(await newConnection(), fingerprint(serving.cert), 'a certificate without its key is not served')
  t.ok(logs.some((line) => line.msg === 'TLS files not reloaded; still serving the previous certificate'), 'the mismatched pair is logged')
  writeFileSync(join(dir, '..2026_01', 'tls.key'), second.key)
  t.ok(await servedWithin(second, 5_000), 'the second certificate is served once its key is there')

  // Atomic, as kubelet updates a Secret volume: a new folder, then ..data swapped by rename.
  writePair('..2026_02', third)
  symlinkSync('..2026_02', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  t.ok(await servedWithin(third, 5_000), 'the third certificate is served after the symlink swap')
  await sleep(200)

  running = false
  await Promise.all(workers)
  t.same(failures, [], 'no request failed during the rotations')
  t.ok(answered > 20, `${answered} reviews answered during the rotations`)
  t.ok(seen.has(fingerprint(serving.cert)) && seen.has(fingerprint(third.cert)), 'the requests saw the old and the new certificates')
  t.equal(logs.filter((line) => line.msg === 'serving a rotated TLS certificate').length, 2, 'two rotations, each logged once')
})

t.test('close drains an in-flight review, and takes no new connection', async (t) => {
  for (const connection of ['a new connection', 'a keep-alive connection'] as const) {
    await t.test(`on ${connection}`, async (t) => {
      let entered!: () => void
      let release!: () => void
      const judgeEntered = new Promise<void>((resolve) => (entered = resolve))
      const gate = new Promise<void>((resolve) => (release = resolve))
      const slow: Judge = async (sa) => {
        entered()
        await gate
        return runtime.judge(sa)
      }
      const { server } = await start(t, { judge: slow })
      const agent = connection === 'a keep-alive connection' ? new Agent({ keepAlive: true }) : false
      t.teardown(() => (agent ? agent.destroy() : undefined))
      const annotations = guardedAnnotations(APP_DATA, allow('dynamodb:PutItem', '*'))
      const inFlight = postReview(server.port, '/validate', serviceAccountRequest('uid-slow', 'team-a', 'slow', annotations), { ...trusted, agent })
      await judgeEntered
      let closed = false
      const closing = server.close().then(() => (closed = true))
      await sleep(100)
      t.equal(closed, false, 'close waits for the review')
      await t.rejects(httpsRequest(server.port, '/healthz', trusted), { code: 'ECONNREFUSED' }, 'no new connection once closing')
      release()
      const released = Date.now()
      const answer = await inFlight
      t.equal(answer.status, 200)
      t.equal(answer.headers.connection, 'close', 'the answer closes its connection')
      t.same([answer.review.response.uid, answer.review.response.allowed, answer.review.response.status?.code], ['uid-slow', false, 403], 'the in-flight review is answered in full')
      await closing
      const waited = Date.now() - released
      t.ok(waited < 5_000, `closed ${waited} ms after the review ended, not after the keep-alive timeout`)
    })
  }
})
