/**
 * The webhook under fuzz: 100,000 generated and damaged AdmissionReviews and session policies POSTed
 * over real HTTPS (keep-alive, 16 in flight) to a webhook running in its own process. Every answer must
 * be the right AdmissionReview (the request's uid, a 403 with a message for a denial, a patch that
 * applies and writes what `session-guard check` normalizes, the in-process judgment) or the right clean
 * 4xx; no 5xx, no connection error, the process still healthy and its memory flat afterwards.
 * FUZZ_SEED replays a run; FUZZ_RUNS changes its length.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { createSecureContext, type SecureContext } from 'node:tls'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { validate } from '../../src/admission/review.js'
import { parseConfig } from '../../src/config/load.js'
import { createRuntime } from '../../src/runtime.js'
import type { ChildMessage, ParentMessage } from '../support/fuzz-webhook-child.js'
import { afterMutation, answerProblems, type Answer, type OracleDependencies, type Post } from '../support/fuzz-oracle.js'
import { fuzzCase, type FuzzCase } from '../support/fuzz-reviews.js'
import { HttpsConnection } from '../support/https-connection.js'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100_000)
const WARM_UP = 2 * Math.round(RUNS / 20) // requests come in pairs (/mutate, /validate)
const IN_FLIGHT = 16
const BATCH = 250
const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31))
const DEADLINE_MS = 200_000 // a bound on the fuzz run: with the rest of the file, below tap's 300 s
const HEAP_GROWTH_LIMIT = 50 * 2 ** 20
const RSS_GROWTH_LIMIT = 100 * 2 ** 20
const LARGE_POLICIES: Array<[count: number, chars: number]> = [[60, 400_000], [800, 25_000]]

const configPath = fileURLToPath(new URL('../../examples/config.yaml', import.meta.url))
const config = parseConfig(await readFile(configPath, 'utf8'), configPath)
const runtime = await createRuntime(config)
const normalized = new Map<string, string | null>() // policy texts recur: generated, mutated, validated
const deps: OracleDependencies = {
  prefix: config.annotationPrefix,
  mode: config.mode,
  bodyLimitBytes: config.webhook.bodyLimitBytes,
  normalizedPolicy: (sessionPolicy) => {
    let policy = normalized.get(sessionPolicy)
    if (policy === undefined) {
      if (normalized.size >= 5_000) normalized.clear()
      policy = runtime.engine.check(sessionPolicy, undefined).normalizedPolicy
      normalized.set(sessionPolicy, policy)
    }
    return policy
  },
  referenceValidate: async (request) => (await validate(request, runtime)).response,
}

interface Webhook {
  child: ChildProcess
  port: number
  cert: string
  logLines: string[]
  next: (type: ParentMessage['type']) => Promise<ParentMessage>
}

function withoutCoverage(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_V8_COVERAGE: _coverage, ...rest } = env
  return rest
}

async function startWebhook(): Promise<Webhook> {
  const script = fileURLToPath(new URL('../support/fuzz-webhook-child.ts', import.meta.url))
  const child = fork(script, [], {
    execArgv: [...process.execArgv, '--expose-gc'],
    // Without V8 coverage: the webhook is measured, not instrumented (the unit tests cover its code).
    env: { ...withoutCoverage(process.env), FUZZ_WEBHOOK_CONFIG: configPath },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const logLines: string[] = []
  let partial = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    logLines.push(...lines)
  })
  const next = (type: ParentMessage['type']) =>
    new Promise<ParentMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the webhook sent no ${type} message within 60 s`)), 60_000)
      const onExit = (code: number | null) => reject(new Error(`the webhook exited (${code}) before sending ${type}`))
      child.once('exit', onExit)
      const onMessage = (message: ParentMessage) => {
        if (message.type !== type) return
        clearTimeout(timer)
        child.off('message', onMessage).off('exit', onExit)
        resolve(message)
      }
      child.on('message', onMessage)
    })
  const ready = await next('ready')
  if (ready.type !== 'ready') throw new Error('unreachable')
  return { child, port: ready.port, cert: ready.cert, logLines, next }
}

async function memoryOf(webhook: Webhook): Promise<{ heapUsed: number; external: number; rss: number; peakRss: number }> {
  const answer = webhook.next('memory')
  webhook.child.send({ type: 'memory' } satisfies ChildMessage)
  const message = await answer
  if (message.type !== 'memory') throw new Error('unreachable')
  const status = readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { heapUsed: message.usage.heapUsed, external: message.usage.external, rss: kib('VmRSS'), peakRss: kib('VmHWM') }
}

/** User plus system CPU seconds of a process (/proc/PID/stat, in clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface Tally {
  sent: number
  bytes: number
  connections: number
  resumed: number
  byStatus: Record<string, number>
  byFamily: Record<string, number>
  closedAfter: Record<string, number>
  connectionErrors: number
  failures: Array<{ family: string; post: Post; answer?: Answer; problems: string[] }>
  failed: number
}

/**
 * One load worker's keep-alive connection, opened again (resuming its TLS session) when the server
 * closes it.
 */
class Client {
  private connection: HttpsConnection | undefined
  private session: Buffer | undefined
  constructor(private readonly port: number, private readonly secureContext: SecureContext, private readonly tally: Tally) {}

  async post(post: Post): Promise<Answer & { closed: boolean }> {
    if (!this.connection?.usable) {
      const options = { onSession: (session: Buffer) => (this.session = session), ...(this.session ? { session: this.session } : {}) }
      this.connection = await HttpsConnection.open(this.port, this.secureContext, options)
      this.tally.connections++
      if (this.connection.resumed) this.tally.resumed++
    }
    const headers: Record<string, string> = post.contentType === null ? {} : { 'content-type': post.contentType }
    const answer = await this.connection.request('POST', post.endpoint, headers, post.body)
    return { status: answer.status, contentType: answer.headers['content-type'], body: answer.body.toString('utf8'), closed: answer.headers['connection'] === 'close' }
  }

  close(): void {
    this.connection?.close()
  }
}

/** POSTs one body and checks the answer; returns the answer, or undefined when the request failed. */
async function exchange(client: Client, family: string, post: Post, tally: Tally): Promise<Answer | undefined> {
  let answer: (Answer & { closed: boolean }) | undefined
  let problems: string[]
  try {
    answer = await client.post(post)
    tally.byStatus[answer.status] = (tally.byStatus[answer.status] ?? 0) + 1
    if (answer.closed) tally.closedAfter[answer.status] = (tally.closedAfter[answer.status] ?? 0) + 1
    problems = await answerProblems(post, answer, deps)
  } catch (error) {
    tally.connectionErrors++
    problems = [`request failed: ${(error as Error).message}`]
  }
  tally.sent++
  tally.bytes += post.body.length
  if (problems.length > 0) {
    tally.failed++
    if (tally.failures.length < 10) tally.failures.push({ family, post, ...(answer ? { answer } : {}), problems })
  }
  return answer
}

/**
 * Sends `count` requests, one per client at a time. Like the API server, each case goes to /mutate,
 * then with the patch applied to /validate.
 */
async function fuzzRound(clients: Client[], cases: () => FuzzCase, count: number, tally: Tally, deadline: number): Promise<void> {
  let remaining = count
  const worker = async (client: Client) => {
    while (remaining > 0 && Date.now() < deadline) {
      remaining -= 2
      const fuzz = cases()
      tally.byFamily[fuzz.family] = (tally.byFamily[fuzz.family] ?? 0) + 1
      const mutation: Post = { endpoint: '/mutate', contentType: fuzz.contentType, body: fuzz.body }
      const answer = await exchange(client, fuzz.family, mutation, tally)
      const body = answer ? afterMutation(mutation, answer) : fuzz.body
      await exchange(client, fuzz.family, { endpoint: '/validate', contentType: fuzz.contentType, body }, tally)
    }
  }
  await Promise.all(clients.map(worker))
}

/** A GET on a new connection with node:https, as any other client would. */
function get(port: number, ca: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** An endless supply of cases, generated BATCH at a time from SEED. */
function caseSource(): () => FuzzCase {
  const arbitrary = fuzzCase({ prefix: deps.prefix, bodyLimitBytes: deps.bodyLimitBytes, normalize: deps.normalizedPolicy })
  let batch: FuzzCase[] = []
  let round = 0
  return () => {
    if (batch.length === 0) batch = fc.sample(arbitrary, { seed: SEED + round++, numRuns: BATCH }).reverse()
    return batch.pop() as FuzzCase
  }
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
const excerpt = (text: string) => (text.length > 1500 ? `${text.slice(0, 1500)}… (${text.length} characters)` : text)

const webhook = await startWebhook()
t.teardown(() => {
  if (webhook.child.exitCode === null && webhook.child.signalCode === null) webhook.child.kill('SIGKILL')
})
const secureContext = createSecureContext({ ca: webhook.cert }) // verifies the webhook's certificate
const newTally = (): Tally => ({ sent: 0, bytes: 0, connections: 0, resumed: 0, byStatus: {}, byFamily: {}, closedAfter: {}, connectionErrors: 0, failures: [], failed: 0 })

function reportFailures(t: Test, tally: Tally): void {
  for (const failure of tally.failures) {
    t.fail(`${failure.family} ${failure.post.endpoint}: ${failure.problems.join('; ')}`, {
      contentType: failure.post.contentType,
      body: excerpt(failure.post.body.toString('utf8')),
      ...(failure.answer ? { status: failure.answer.status, answer: excerpt(failure.answer.body) } : {}),
    })
  }
  t.equal(tally.failed, 0, 'every answer is the right AdmissionReview or the right clean 4xx')
  t.equal(tally.connectionErrors, 0, 'no connection error')
}

t.test(`${RUNS} fuzzed reviews over HTTPS: right answers or clean 4xx, no 5xx, flat memory`, async (t) => {
  const tally = newTally()
  const clients = Array.from({ length: IN_FLIGHT }, () => new Client(webhook.port, secureContext, tally))
  t.teardown(() => clients.forEach((client) => client.close()))
  const cases = caseSource()
  const started = Date.now()
  const cpuBefore = { test: process.cpuUsage(), webhook: cpuSecondsOf(webhook.child.pid) }
  const deadline = started + DEADLINE_MS

  // Memory after the warm-up, then after each further tenth of the run: flat means no upward trend.
  await fuzzRound(clients, cases, WARM_UP, tally, deadline)
  const warm = await memoryOf(webhook)
  const series = [warm]
  for (let tenth = 1; tenth < 10; tenth++) {
    await fuzzRound(clients, cases, Math.min(WARM_UP, RUNS - tally.sent), tally, deadline)
    series.push(await memoryOf(webhook))
  }
  const seconds = (Date.now() - started) / 1000
  const after = series[series.length - 1] as typeof warm
  const testCpu = process.cpuUsage(cpuBefore.test)
  const cpu = { test: (testCpu.user + testCpu.system) / 1e6, webhook: cpuSecondsOf(webhook.child.pid) - cpuBefore.webhook }
  // A spike from the last large body is not a trend: the lowest of the last three readings counts.
  const settledRss = Math.min(...series.slice(-3).map((m) => m.rss))

  t.comment(`seed ${SEED} (FUZZ_SEED=${SEED} replays it): ${tally.sent} requests in ${seconds.toFixed(1)} s, ${Math.round(tally.sent / seconds)} requests/s, ${mb(tally.bytes)} of bodies, ${IN_FLIGHT} in flight over ${tally.connections} TLS connections (${tally.resumed} resumed a session)`)
  t.comment(`CPU: ${cpu.test.toFixed(1)} s in this process (generating, sending, checking), ${cpu.webhook.toFixed(1)} s in the webhook`)
  t.comment(`HTTP status: ${JSON.stringify(tally.byStatus)}; connection closed by the server after: ${JSON.stringify(tally.closedAfter)}`)
  t.comment(`cases (each POSTed to /mutate, then patched to /validate): ${JSON.stringify(tally.byFamily)}`)
  const megabytes = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
  t.comment(`webhook heapUsed/external/RSS (MB) after warm-up and each further tenth, after a full GC: ${series.map((m) => [m.heapUsed, m.external, m.rss].map(megabytes).join('/')).join('  ')}; peak RSS ${mb(after.peakRss)}`)
  reportFailures(t, tally)

  t.equal(tally.sent, RUNS, `all ${RUNS} requests were sent within ${DEADLINE_MS / 1000} s`)
  t.same(Object.keys(tally.byStatus).filter((status) => Number(status) >= 500), [], 'no 5xx')
  t.ok(Object.keys(tally.byStatus).every((status) => ['200', '400', '413', '415'].includes(status)), 'only 200, 400, 413 and 415')
  t.ok(after.heapUsed - warm.heapUsed < HEAP_GROWTH_LIMIT, `heapUsed grew ${mb(after.heapUsed - warm.heapUsed)} after warm-up (limit ${mb(HEAP_GROWTH_LIMIT)})`)
  t.ok(settledRss - warm.rss < RSS_GROWTH_LIMIT, `RSS grew ${mb(settledRss - warm.rss)} after warm-up (limit ${mb(RSS_GROWTH_LIMIT)})`)
})

/** A guarded ServiceAccount whose session policy (over the size limit, so denied) is `chars` long. */
function largePolicyCase(i: number, chars: number): FuzzCase {
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::acme-team-a/${i}/${'x'.repeat(chars)}` }] })
  const annotations = { 'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/read-only', 'session-guard.dev/session-policy': policy, 'session-guard.dev/disable-session-tags': 'true' }
  const object = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `large-${i}`, namespace: 'team-a', annotations } }
  const request = { uid: `large-${chars}-${i}`, kind: { group: '', version: 'v1', kind: 'ServiceAccount' }, namespace: 'team-a', operation: 'CREATE', object }
  return { family: `${chars} characters`, contentType: 'application/json', body: Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request })) }
}

t.test('distinct large session policies do not pile up in memory', async (t) => {
  const tally = newTally()
  const clients = Array.from({ length: 4 }, () => new Client(webhook.port, secureContext, tally))
  t.teardown(() => clients.forEach((client) => client.close()))
  const before = await memoryOf(webhook)
  // Policies as large as a review may carry (with its normalized copy, within the 1 MiB body limit),
  // and many of a size the webhook might be tempted to remember.
  for (const [count, chars] of LARGE_POLICIES) {
    let i = 0
    await fuzzRound(clients, () => largePolicyCase(i++, chars), 2 * count, tally, Date.now() + 60_000)
  }
  const after = await memoryOf(webhook)
  t.comment(`${LARGE_POLICIES.map(([count, chars]) => `${count} distinct session policies of ${chars.toLocaleString('en')} characters`).join(', then ')}: webhook heapUsed ${mb(before.heapUsed)} → ${mb(after.heapUsed)}, RSS ${mb(before.rss)} → ${mb(after.rss)}`)
  reportFailures(t, tally)
  t.same(tally.byStatus, { 200: tally.sent }, 'each is judged')
  t.equal(tally.sent, 2 * LARGE_POLICIES.reduce((n, [count]) => n + count, 0), 'all were sent')
  t.ok(after.heapUsed - before.heapUsed < HEAP_GROWTH_LIMIT, `heapUsed grew ${mb(after.heapUsed - before.heapUsed)} (limit ${mb(HEAP_GROWTH_LIMIT)})`)
})

t.test('afterwards the webhook is healthy and drains when asked', async (t) => {
  t.same(await get(webhook.port, webhook.cert, '/healthz'), { status: 200, body: '{"status":"ok"}' }, '/healthz answers on a new connection')
  t.equal(webhook.child.exitCode, null, 'the webhook process is still running')
  const errors = webhook.logLines.filter((line) => line.startsWith('{') && (JSON.parse(line) as { level?: number }).level! >= 50)
  t.same(errors.map((line) => line.slice(0, 400)), [], 'the webhook logged no error')
  const closed = webhook.next('closed')
  webhook.child.send({ type: 'close' } satisfies ChildMessage)
  await closed
  const code = await new Promise<number | null>((resolve) => (webhook.child.exitCode !== null ? resolve(webhook.child.exitCode) : webhook.child.once('exit', resolve)))
  t.equal(code, 0, 'the webhook drains and exits cleanly')
})
