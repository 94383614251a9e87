/**
 * The sync figures, on the built code (dist/): 2,000 guarded ServiceAccounts (distinct ~2 KB session
 * policies over 40 namespaces, normalized annotations as the mutating webhook leaves them) synced by
 * `syncOnce` with the real judge (the webhook config: ReadOnlyAccess base role, guardrails) and the
 * real EKS SDK client against the EKS emulator in its own process, from an empty cluster.
 *
 *   sync_converge_s          start of the first pass → end of the pass after which every association
 *                            is verified correct in the emulator (roleArn, policy, disableSessionTags,
 *                            ownership tags; no extra association)
 *   sync_second_pass_writes  write calls (create, update, delete, tag) the emulator receives in an immediate
 *                            second full pass of the same engine
 *   sync_restart_pass_writes the same for a pass of a new engine (a restarted sidecar: empty caches)
 *
 * Prints one JSON line on stdout.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { createEksClient } from '../dist/aws/eks-associations.js'
import { parseConfig } from '../dist/config/load.js'
import { createRuntime } from '../dist/runtime.js'
import { createSyncEngine, syncOnce } from '../dist/sync/once.js'
import { ownershipTags } from '../dist/sync/ownership.js'
import { ACCOUNT, CLUSTER, PREFIX, REGION, guardedAnnotations, sessionPolicyText, webhookConfig } from './fixtures.mjs'
import { round } from './stats.mjs'
import { verify } from './sync-verify.mjs'

const ACCOUNTS = Number(process.env.BENCH_SYNC_ACCOUNTS ?? 2000)
const NAMESPACES = 40
const CONVERGE_LIMIT_MS = 120_000
const EMULATOR_HOST = fileURLToPath(new URL('./eks-emulator-host.mjs', import.meta.url))

const logger = pino({ name: 'bench-sync', level: 'warn' }, pino.destination(2))
const emulator = await startEmulator()
try {
  const config = parseConfig(JSON.stringify({ ...webhookConfig({ port: 8443 }), sync: { eksEndpoint: emulator.endpoint } }), 'bench sync config')
  const runtime = await createRuntime(config)
  const accounts = serviceAccounts(runtime.engine)
  const eksClient = createEksClient({ region: REGION, endpoint: emulator.endpoint, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } })
  const settings = { config, judge: runtime.judge, eksClient, logger }
  const engine = createSyncEngine(settings)
  const expectedTags = ownershipTags({
    annotationPrefix: config.annotationPrefix, installationId: config.sync.installationId, clusterName: config.clusterName, adoptExisting: config.sync.adoptExisting,
  })
  process.stderr.write(`syncing ${accounts.length} guarded ServiceAccounts (concurrency ${config.sync.concurrency}) into an empty emulator\n`)

  const started = performance.now()
  const passes = []
  let convergedAt
  let problems = []
  while (performance.now() - started < CONVERGE_LIMIT_MS) {
    const report = await syncOnce({ ...settings, engine, serviceAccounts: accounts })
    const passEnded = performance.now()
    passes.push({ seconds: round(report.durationMs / 1000), results: report.results, deferred: report.deferred, failures: report.failures.length })
    process.stderr.write(`pass ${passes.length}: ${JSON.stringify(passes.at(-1))}\n`)
    problems = verify(accounts, await emulator.ask('associations'), { prefix: PREFIX, ownershipTags: expectedTags })
    if (problems.length === 0) {
      convergedAt = passEnded
      break
    }
    process.stderr.write(`not converged yet: ${problems.length} problems, e.g. ${problems.slice(0, 3).join('; ')}\n`)
  }
  const firstCalls = await emulator.ask('calls')

  await emulator.ask('resetCalls')
  const second = await syncOnce({ ...settings, engine, serviceAccounts: accounts })
  const secondCalls = await emulator.ask('calls')
  await emulator.ask('resetCalls')
  const restart = await syncOnce({ ...settings, serviceAccounts: accounts })
  const restartCalls = await emulator.ask('calls')
  eksClient.destroy()

  console.log(JSON.stringify({
    sync_converge_s: convergedAt === undefined ? null : round((convergedAt - started) / 1000),
    sync_second_pass_writes: secondCalls.writes,
    sync_restart_pass_writes: restartCalls.writes,
    sync_accounts: accounts.length,
    sync_passes_to_converge: convergedAt === undefined ? null : passes.length,
    sync_problems: problems.length,
    sync_second_pass_s: round(second.durationMs / 1000),
    sync_restart_pass_s: round(restart.durationMs / 1000),
    first_calls: firstCalls.calls,
    second_calls: secondCalls.calls,
    restart_calls: restartCalls.calls,
  }))
} finally {
  await emulator.close()
}

/** Guarded ServiceAccounts as the webhook admitted them; every policy distinct, each about 2 KB. */
function serviceAccounts(engine) {
  return Array.from({ length: ACCOUNTS }, (_, i) => {
    const app = `app${String(i).padStart(4, '0')}`
    const annotations = guardedAnnotations(sessionPolicyText(app))
    annotations[`${PREFIX}/normalized-policy`] = engine.normalize(annotations[`${PREFIX}/session-policy`])
    return { namespace: `team-${i % NAMESPACES}`, name: `${app}-reader`, uid: `uid-${i}`, annotations }
  })
}

/** Forks the emulator host; falls back to the project's TypeScript loader when type stripping fails. */
async function startEmulator() {
  const attempts = [[], ['--import', '@tapjs/typescript/import']]
  let lastError
  for (const execArgv of attempts) {
    const child = fork(EMULATOR_HOST, [CLUSTER, REGION, ACCOUNT], { execArgv: ['--no-warnings', ...execArgv], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const first = await new Promise((resolve) => {
      child.once('message', resolve)
      child.once('exit', (code) => resolve({ ready: false, error: `exited with ${code}` }))
    })
    if (first.ready) return host(child, first.endpoint)
    lastError = first.error
    child.kill()
  }
  throw new Error(`the EKS emulator did not start: ${lastError}`)
}

function host(child, endpoint) {
  let nextId = 0
  const waiting = new Map()
  child.on('message', ({ id, result, error }) => {
    const pending = waiting.get(id)
    waiting.delete(id)
    if (error) pending?.reject(new Error(error))
    else pending?.resolve(result)
  })
  const ask = (op) => new Promise((resolve, reject) => {
    const id = ++nextId
    waiting.set(id, { resolve, reject })
    child.send({ id, op })
  })
  return {
    endpoint,
    ask,
    close: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      await Promise.race([ask('close'), exited])
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    },
  }
}
