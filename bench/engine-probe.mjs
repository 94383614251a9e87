/**
 * The policy engine figures, measured in a process of their own on the built code (dist/):
 *
 *   node bench/engine-probe.mjs cold   first check against a base role in a process that has just
 *                                      started the way the webhook starts (createRuntime: catalog
 *                                      loaded, grammar warmed, no role compiled): compile + check,
 *                                      nothing cached, code not yet optimized — what a fresh webhook
 *                                      pays for the first review against a role it reads from IAM
 *   node bench/engine-probe.mjs bare   the same with only the catalog loaded (no runtime warm-up)
 *   node bench/engine-probe.mjs warm   many checks against a compiled role (median, p99), then first
 *                                      checks against new role documents in the warmed process
 *
 * Prints one JSON line on stdout.
 */
import { loadActionCatalog } from '../dist/catalog/load.js'
import { parseConfig } from '../dist/config/load.js'
import { PolicyEngine } from '../dist/policy/engine.js'
import { createRuntime } from '../dist/runtime.js'
import { managedPolicy, NORMALIZED_LENGTH, sessionPolicyText } from './fixtures.mjs'
import { median, percentile, round } from './stats.mjs'

const WARMUP_CHECKS = 300
const MEASURED_CHECKS = 3000
const MEASURE_BUDGET_MS = 8000
const NEW_ROLES_IN_WARM_PROCESS = 5

const mode = process.argv[2]
const readOnlyAccess = managedPolicy('ReadOnlyAccess')
const sessionPolicy = sessionPolicyText()

const catalogStarted = performance.now()
// The engine figures are about judging: the engine's memory of past judgments is turned off
// (checksKept: 0), so every measured check parses, expands and compares.
const engine = mode === 'bare' || mode === 'warm'
  ? new PolicyEngine(await loadActionCatalog(), { checksKept: 0 })
  // A static source with no roles: nothing compiled at start, as with `baseRoles.source: iam`.
  : (await createRuntime(parseConfig('clusterName: bench\nregion: eu-west-1\nbaseRoles: {source: static}\n', 'bench'))).engine
const catalogMs = performance.now() - catalogStarted

/** Fails the probe when the check is not the one the figures are about (an allowed ~2 KB policy). */
function expectAllowed(result) {
  if (!result.allowed) throw new Error(`the bench session policy is not allowed: ${JSON.stringify(result.violations)}`)
  const length = result.normalizedPolicy.length
  if (length < NORMALIZED_LENGTH.min || length > NORMALIZED_LENGTH.max) {
    throw new Error(`the bench session policy normalizes to ${length} characters, not ${NORMALIZED_LENGTH.min}–${NORMALIZED_LENGTH.max}`)
  }
  return result
}

/** A ReadOnlyAccess-size document no engine has seen: same statements, a distinct Id. */
function freshReadOnlyDocument(tag) {
  const document = JSON.parse(readOnlyAccess)
  return JSON.stringify({ Id: `bench-${tag}-${process.pid}-${Date.now()}`, ...document })
}

function firstCheck(documentText) {
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const baseRole = engine.baseRole({ policies: [documentText] })
  const compiledAt = performance.now()
  const result = engine.check(sessionPolicy, baseRole)
  const ended = performance.now()
  const cpu = process.cpuUsage(cpuBefore)
  expectAllowed(result)
  // CPU time of the whole process (V8's compiler threads too): unlike wall time, not inflated when
  // other processes take the cores.
  return { totalMs: ended - started, compileMs: compiledAt - started, checkMs: ended - compiledAt, cpuMs: (cpu.user + cpu.system) / 1000 }
}

if (mode === 'cold' || mode === 'bare') {
  const first = firstCheck(freshReadOnlyDocument('cold'))
  console.log(JSON.stringify({
    cold_ms: round(first.totalMs), cold_cpu_ms: round(first.cpuMs), compile_ms: round(first.compileMs), check_ms: round(first.checkMs), startup_ms: round(catalogMs),
    normalized_length: engine.normalize(sessionPolicy).length, base_role_chars: readOnlyAccess.length,
  }))
} else if (mode === 'warm') {
  const baseRole = engine.baseRole({ policies: [readOnlyAccess] })
  expectAllowed(engine.check(sessionPolicy, baseRole))
  for (let i = 0; i < WARMUP_CHECKS; i++) engine.check(sessionPolicy, baseRole)
  const samples = []
  const deadline = performance.now() + MEASURE_BUDGET_MS
  while (samples.length < MEASURED_CHECKS && performance.now() < deadline) {
    const started = performance.now()
    engine.check(sessionPolicy, baseRole)
    samples.push(performance.now() - started)
  }
  const newRoles = []
  for (let i = 0; i < NEW_ROLES_IN_WARM_PROCESS; i++) newRoles.push(firstCheck(freshReadOnlyDocument(`warm-${i}`)).totalMs)
  console.log(JSON.stringify({
    median_ms: round(median(samples)), p99_ms: round(percentile(samples, 99)), checks: samples.length,
    new_role_in_warm_process_ms: round(median(newRoles)), new_role_samples_ms: newRoles.map((ms) => round(ms)),
  }))
} else {
  console.error('usage: node bench/engine-probe.mjs cold|bare|warm')
  process.exitCode = 2
}
