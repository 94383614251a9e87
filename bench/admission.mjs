/**
 * The admission figures: the real webhook (`dist/cli.js webhook`) against a bare Fastify HTTPS server,
 * both children of the benchmark on this machine with the same throwaway certificate, loaded by
 * autocannon (keep-alive HTTPS) in alternating rounds of equal length and connections; then latency at
 * half the webhook's rate with an evenly paced open-loop load (bench/paced-load.mjs).
 */
import { spawn } from 'node:child_process'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { stringify as toYaml } from 'yaml'
import { developmentCertificate } from '../dist/server/tls.js'
import { REPO, relayLines, stop, track } from './children.mjs'
import {
  admissionReview, guardedAnnotations, NORMALIZED_LENGTH, overreachingPolicyText, PREFIX, READ_ONLY_ROLE, webhookConfig,
} from './fixtures.mjs'
import { call, freePort, sleep } from './https-client.mjs'
import { pacedLoad } from './paced-load.mjs'
import { median, round } from './stats.mjs'

const READY_SAMPLES = 3
const READY_JSON_SAMPLES = 2
const READY_POLL_MS = 2
const READY_LIMIT_MS = 20_000

/** Seconds of each phase; BENCH_LOAD_SECONDS scales the measured rounds (default 7). */
export function loadPlan(env = process.env) {
  const round = Math.max(2, Number(env.BENCH_LOAD_SECONDS ?? 7))
  return {
    connections: 16, warmupSeconds: 3, rounds: 3, roundSeconds: round,
    pacedSeconds: Math.round(round * 1.5), pacedBaselineSeconds: Math.round(round * 0.75), pacedWarmupSeconds: 2, autocannonRateSeconds: Math.round(round * 0.6),
  }
}

export async function measureAdmission(log) {
  const plan = loadPlan()
  const work = await mkdtemp(join(tmpdir(), 'session-guard-bench-'))
  const children = []
  try {
    const tls = await developmentCertificate()
    const certFile = join(work, 'tls.crt')
    const keyFile = join(work, 'tls.key')
    await writeFile(certFile, tls.cert)
    await writeFile(keyFile, tls.key, { mode: 0o600 })
    const configFile = join(work, 'config.yaml')
    await writeFile(configFile, toYaml(webhookConfig({ port: 8443 })))
    const jsonDocumentsConfigFile = join(work, 'config-json-documents.yaml')
    await writeFile(jsonDocumentsConfigFile, toYaml(webhookConfig({ port: 8443, documentsAsJson: true })))
    const ca = tls.cert

    // Ready: several fresh starts; the last one stays up and takes the load. First, starts with the
    // same config but its policy document as a JSON string, to show what the YAML form costs.
    const readyJsonSamples = []
    const readyJsonCpu = []
    for (let i = 0; i < READY_JSON_SAMPLES; i++) {
      const started = await startWebhook({ configFile: jsonDocumentsConfigFile, certFile, keyFile, ca, logFile: join(work, `webhook-json-${i}.log`) })
      readyJsonSamples.push(started.readyMs)
      readyJsonCpu.push(started.readyCpuMs)
      await stop(started.child)
    }
    const readySamples = []
    const readyCpu = []
    let webhook
    let rssAtReady
    for (let i = 0; i < READY_SAMPLES; i++) {
      if (webhook) await stop(webhook.child)
      webhook = await startWebhook({ configFile, certFile, keyFile, ca, logFile: join(work, `webhook-${i}.log`) })
      if (i === READY_SAMPLES - 1) rssAtReady = await memory(webhook.child.pid)
      readySamples.push(webhook.readyMs)
      readyCpu.push(webhook.readyCpuMs)
    }
    children.push(webhook.child)
    log(`ready: ${readySamples.map((ms) => round(ms)).join(', ')} ms from spawn to the first 200 on GET /readyz, ` +
      `using ${readyCpu.join(', ')} ms of CPU (with the policy document as a JSON string in the config: ` +
      `${readyJsonSamples.map((ms) => round(ms)).join(', ')} ms, CPU ${readyJsonCpu.join(', ')} ms)`)

    const reviews = await checkAnswers(webhook.port, ca, log)
    const responseFile = join(work, 'validate-response.json')
    await writeFile(responseFile, reviews.validateResponse)
    const baseline = await startBaseline({ certFile, keyFile, responseFile })
    children.push(baseline.child)
    const baselineAnswer = await call({ port: baseline.port, path: '/validate', method: 'POST', body: reviews.validateBody, ca })
    if (baselineAnswer.status !== 200 || baselineAnswer.text !== reviews.validateResponse) throw new Error('the baseline does not answer the fixed AdmissionReview')

    const targets = {
      webhook: { port: webhook.port, pid: webhook.child.pid, expectBody: reviews.validateResponse },
      baseline: { port: baseline.port, pid: baseline.child.pid, expectBody: reviews.validateResponse },
    }
    const load = (name, seconds, extra = {}) => cannon({ ...targets[name], body: reviews.validateBody, seconds, connections: plan.connections, ...extra })

    log(`load: warm-up ${plan.warmupSeconds} s each, then ${plan.rounds} alternating rounds of ${plan.roundSeconds} s, ` +
      `${plan.connections} keep-alive HTTPS connections, POST /validate with a ${reviews.validateBody.length}-byte AdmissionReview`)
    const webhookRuns = []
    const baselineRuns = []
    const webhookWarmup = await load('webhook', plan.warmupSeconds)
    await load('baseline', plan.warmupSeconds)
    for (let r = 0; r < plan.rounds; r++) {
      const order = r % 2 === 0 ? ['webhook', 'baseline'] : ['baseline', 'webhook']
      for (const name of order) {
        const run = await load(name, plan.roundSeconds)
        ;(name === 'webhook' ? webhookRuns : baselineRuns).push(run)
        log(`  round ${r + 1} ${name.padEnd(8)} ${run.rps} req/s, ${run.cpu_ms_per_review} ms CPU per review, p99 ${run.p99_ms} ms, non-2xx ${run.non2xx}, errors ${run.errors}, timeouts ${run.timeouts}, mismatches ${run.mismatches}`)
      }
    }
    const admissionRps = median(webhookRuns.map((run) => run.rps))
    const baselineRps = median(baselineRuns.map((run) => run.rps))
    // CPU time per answered review is far less sensitive to other load on the machine than req/s.
    const webhookCpu = median(webhookRuns.map((run) => run.cpu_ms_per_review))
    const baselineCpu = median(baselineRuns.map((run) => run.cpu_ms_per_review))
    log(`CPU per review: webhook ${webhookCpu} ms, baseline ${baselineCpu} ms (ratio ${round(baselineCpu / webhookCpu, 3)})`)

    const halfRate = Math.max(1, Math.round(admissionRps / 2))
    const paced = (name, seconds) => pacedLoad({
      host: '127.0.0.1', port: targets[name].port, path: '/validate', body: reviews.validateBody, ca, expectBody: reviews.validateResponse,
      rate: halfRate, seconds, warmupSeconds: plan.pacedWarmupSeconds, connections: plan.connections,
    })
    const describePaced = (name, run) => `  paced ${name.padEnd(8)} ${run.achieved_rps} req/s, p50 ${run.p50_ms} ms, p99 ${run.p99_ms} ms, max ${run.max_ms} ms, ` +
      `client issue lag p99 ${run.schedule_lag_p99_ms} ms, non-2xx ${run.non2xx}, errors ${run.errors}, timeouts ${run.timeouts}, mismatches ${run.mismatches}, unanswered ${run.unanswered}`
    log(`half load: ${halfRate} req/s evenly paced (open loop) for ${plan.pacedSeconds} s on the webhook, then ${plan.pacedBaselineSeconds} s on the baseline ` +
      `at the same rate (what this machine adds by itself), ${plan.pacedWarmupSeconds} s not counted before each`)
    const half = await paced('webhook', plan.pacedSeconds)
    log(describePaced('webhook', half))
    const halfBaseline = await paced('baseline', plan.pacedBaselineSeconds)
    log(describePaced('baseline', halfBaseline))
    const autocannonHalf = await load('webhook', plan.autocannonRateSeconds, { overallRate: halfRate })
    log(`  autocannon overallRate ${halfRate} on the webhook: ${autocannonHalf.rps} req/s, p99 ${autocannonHalf.p99_ms} ms ` +
      '(paced per connection in bursts, so not the headline; see bench/paced-load.mjs)')

    const rss = await memory(webhook.child.pid)
    const webhookLog = await readLog(webhook.logFile)
    const webhookCountedRuns = [webhookWarmup, ...webhookRuns, autocannonHalf]
    // autocannon counts a timeout in `errors` as well as in `timeouts`: timeouts are not added twice.
    const failures = (run) => run.non2xx + run.errors + run.mismatches
    const errors = webhookCountedRuns.reduce((sum, run) => sum + failures(run), 0) +
      half.non2xx + half.errors + half.timeouts + half.mismatches + half.unanswered
    log(`webhook process: peak RSS ${rss.peakMb} MB (${rssAtReady.rssMb} MB when ready, ${rss.rssMb} MB now), ` +
      `${webhookLog.lines} log lines, ${webhookLog.errors} at level error or above`)
    return {
      admission_rps: round(admissionRps),
      baseline_rps: round(baselineRps),
      ratio: round(admissionRps / baselineRps, 3),
      p99_ms_at_half_load: half.p99_ms,
      errors,
      rss_mb: rss.peakMb,
      rss_ready_mb: rssAtReady.rssMb,
      ready_ms: round(median(readySamples)),
      admission_rps_samples: webhookRuns.map((run) => run.rps),
      baseline_rps_samples: baselineRuns.map((run) => run.rps),
      ratio_per_round: webhookRuns.map((run, i) => round(run.rps / baselineRuns[i].rps, 3)),
      webhook_cpu_ms_per_review: webhookCpu,
      baseline_cpu_ms_per_review: baselineCpu,
      cpu_ratio: round(baselineCpu / webhookCpu, 3),
      p99_ms_at_full_load: round(median(webhookRuns.map((run) => run.p99_ms))),
      p99_ms_at_half_load_autocannon: autocannonHalf.p99_ms,
      half_load_rps: half.achieved_rps,
      half_load_client_lag_p99_ms: half.schedule_lag_p99_ms,
      baseline_p99_ms_at_same_rate: halfBaseline.p99_ms,
      ready_samples_ms: readySamples.map((ms) => round(ms)),
      ready_cpu_ms: median(readyCpu),
      ready_ms_json_documents: round(median(readyJsonSamples)),
      ready_cpu_ms_json_documents: median(readyJsonCpu),
      webhook_log_errors: webhookLog.errors,
      review_bytes: reviews.validateBody.length,
    }
  } finally {
    await Promise.all(children.map((child) => stop(child)))
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * Spawns the webhook and times spawn → first 200 on GET /readyz. Its log goes to a file, as a
 * container runtime takes it: a pipe read by this busy process would make the webhook's synchronous
 * logger wait on the benchmark.
 */
async function startWebhook({ configFile, certFile, keyFile, ca, logFile }) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const log = await open(logFile, 'w')
    const startedAt = performance.now()
    const child = track(spawn(process.execPath, [...webhookNodeArgs(), 'dist/cli.js', 'webhook', '--config', configFile, '--port', String(port), '--tls-cert', certFile, '--tls-key', keyFile], {
      cwd: REPO, stdio: ['ignore', log.fd, 'pipe'],
    }))
    await log.close()
    let exited = false
    child.once('exit', () => { exited = true })
    relayLines(child.stderr, '  [webhook stderr] ')
    const deadline = startedAt + READY_LIMIT_MS
    let readyAt
    while (!exited && performance.now() < deadline) {
      const answer = await call({ port, path: '/readyz', ca, timeoutMs: 2000 }).catch(() => undefined)
      if (answer?.status === 200) {
        readyAt = performance.now()
        break
      }
      await sleep(READY_POLL_MS)
    }
    if (readyAt !== undefined) return { child, port, readyMs: readyAt - startedAt, readyCpuMs: await cpuMs(child.pid), logFile }
    await stop(child)
    if (!exited || attempt >= 3) throw new Error(`the webhook was not ready within ${READY_LIMIT_MS} ms (port ${port})`)
    // Exited early: most likely the port was taken between picking and binding; try another.
  }
}

/** Lines of the webhook's log, and those at level error or above (the first few are shown). */
async function readLog(logFile) {
  const lines = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean)
  const errors = lines.filter((line) => /"level":(5|6)\d/.test(line))
  for (const line of errors.slice(0, 5)) process.stderr.write(`  [webhook] ${line.slice(0, 500)}\n`)
  return { lines: lines.length, errors: errors.length }
}

const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ: 100 on Linux everywhere this runs (getconf CLK_TCK)

/** User + system CPU time of a process so far, in ms (/proc/PID/stat fields 14 and 15). */
async function cpuMs(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // after "pid (comm) ": field 3 is index 0
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MB. */
async function memory(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const mb = (field) => round(Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024)
  return { peakMb: mb('VmHWM'), rssMb: mb('VmRSS') }
}

/**
 * BENCH_WEBHOOK_NODE_ARGS and BENCH_BASELINE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof",
 * go to the node of the webhook and of the baseline server (to profile them under this load).
 */
function webhookNodeArgs(variable = 'BENCH_WEBHOOK_NODE_ARGS') {
  return (process.env[variable] ?? '').split(' ').filter(Boolean)
}

async function startBaseline({ certFile, keyFile, responseFile }) {
  const child = track(spawn(process.execPath, [...webhookNodeArgs('BENCH_BASELINE_NODE_ARGS'), 'bench/baseline-server.mjs', '--port', '0', '--tls-cert', certFile, '--tls-key', keyFile, '--response', responseFile], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
  }))
  relayLines(child.stderr, '  [baseline] ')
  const port = await new Promise((resolve, reject) => {
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      text += chunk
      const line = text.split('\n')[0]
      if (text.includes('\n')) resolve(JSON.parse(line).port)
    })
    child.once('exit', (code) => reject(new Error(`the baseline server exited (${code}) before listening`)))
  })
  return { child, port }
}

/**
 * The answers the load is about, checked before measuring: /mutate patches in the normalized policy,
 * /validate admits the guarded account, and denies an overreaching policy and a role outside the
 * guardrails. Returns the review to load with (as the mutating webhook leaves it) and its answer.
 */
async function checkAnswers(port, ca, log) {
  const post = async (path, review) => {
    const answer = await call({ port, path, method: 'POST', body: JSON.stringify(review), ca })
    if (answer.status !== 200) throw new Error(`POST ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    return JSON.parse(answer.text).response
  }
  const normalizedBy = async (annotations) => {
    const mutated = await post('/mutate', admissionReview({ uid: 'bench-mutate', annotations }))
    const ops = mutated.patch ? JSON.parse(Buffer.from(mutated.patch, 'base64').toString('utf8')) : []
    const op = ops.find((o) => o.path === `/metadata/annotations/${PREFIX.replaceAll('~', '~0')}~1normalized-policy`)
    if (!mutated.allowed || mutated.patchType !== 'JSONPatch' || !op) throw new Error(`/mutate did not patch in the normalized policy: ${JSON.stringify(mutated)}`)
    return op.value
  }

  const annotations = guardedAnnotations()
  const normalized = await normalizedBy(annotations)
  if (normalized.length < NORMALIZED_LENGTH.min || normalized.length > NORMALIZED_LENGTH.max) throw new Error(`normalized policy of ${normalized.length} characters`)
  const review = admissionReview({ uid: 'bench-validate', annotations: { ...annotations, [`${PREFIX}/normalized-policy`]: normalized } })
  const validateBody = JSON.stringify(review)
  const first = await call({ port, path: '/validate', method: 'POST', body: validateBody, ca })
  const second = await call({ port, path: '/validate', method: 'POST', body: validateBody, ca })
  const admitted = JSON.parse(first.text).response
  if (first.status !== 200 || admitted.allowed !== true || admitted.uid !== 'bench-validate') throw new Error(`/validate did not admit the bench review: ${first.text.slice(0, 500)}`)
  if (second.text !== first.text) throw new Error('/validate answers the same review differently twice; the load could not check its answers')

  const overreaching = overreachingPolicyText()
  const overreachingAnnotations = guardedAnnotations(overreaching)
  overreachingAnnotations[`${PREFIX}/normalized-policy`] = await normalizedBy(overreachingAnnotations)
  const denied = await post('/validate', admissionReview({ uid: 'bench-deny', annotations: overreachingAnnotations }))
  if (denied.allowed !== false || !JSON.stringify(denied).includes('ACTION_OUTSIDE_BASE_ROLE')) throw new Error(`an overreaching policy was not denied: ${JSON.stringify(denied).slice(0, 500)}`)
  const outside = await post('/validate', admissionReview({ uid: 'bench-guardrail', annotations: review.request.object.metadata.annotations, namespace: 'default' }))
  if (outside.allowed !== false || !JSON.stringify(outside).includes('ROLE_NOT_ALLOWED')) throw new Error(`${READ_ONLY_ROLE} was admitted outside its guardrails: ${JSON.stringify(outside).slice(0, 500)}`)
  log(`answers checked: /mutate patches a ${normalized.length}-character normalized policy; /validate admits it` +
    `${admitted.warnings?.length ? ` with ${admitted.warnings.length} warning(s)` : ' with no warnings'}, ` +
    'denies s3:PutObject (ACTION_OUTSIDE_BASE_ROLE) and namespace default (ROLE_NOT_ALLOWED)')
  return { validateBody, validateResponse: first.text }
}

/** One autocannon run; `rps` counts only 2xx answers that matched the expected body. */
async function cannon({ port, pid, body, seconds, connections, expectBody, overallRate }) {
  const cpuBefore = await cpuMs(pid)
  const result = await autocannon({
    url: `https://127.0.0.1:${port}/validate`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    timeout: 10,
    expectBody,
    ...(overallRate ? { overallRate } : {}),
  })
  const answered = result['2xx'] - result.mismatches
  const cpu = (await cpuMs(pid)) - cpuBefore
  return {
    rps: round(answered / result.duration),
    cpu_ms_per_review: round(cpu / Math.max(1, answered), 4),
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
  }
}
