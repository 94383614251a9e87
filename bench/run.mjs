/**
 * `npm run bench` (after `npm run build`): the figures of PRODUCT.md "Targets", measured on the built
 * code side by side in one run. Progress and the target comparison go to stderr; the last stdout line
 * is one JSON object with every figure. Targets are reported, not enforced: the exit status is non-zero
 * only when a part of the benchmark itself failed (it could not measure, or an answer was wrong).
 *
 *   node bench/run.mjs [engine] [admission] [sync]     (all three by default, in that order)
 *
 * BENCH_LOAD_SECONDS (default 7) sets the length of each load round; BENCH_SYNC_ACCOUNTS (default
 * 2000) the number of ServiceAccounts synced.
 */
import { availableParallelism, loadavg } from 'node:os'
import { measureAdmission } from './admission.mjs'
import { runJsonChild } from './children.mjs'
import { measureEngine } from './engine.mjs'
import { round } from './stats.mjs'
import { TARGETS, verdicts } from './targets.mjs'

const SECTIONS = {
  engine: measureEngine,
  admission: measureAdmission,
  sync: measureSync,
}

const log = (line) => process.stderr.write(`${line}\n`)

async function measureSync(say) {
  const figures = await runJsonChild('bench/sync-probe.mjs', [], { label: 'sync', timeoutMs: 240_000 })
  say(`sync: ${figures.sync_accounts} ServiceAccounts converged in ${figures.sync_converge_s} s (${figures.sync_passes_to_converge} pass(es)); ` +
    `second pass ${figures.sync_second_pass_s} s, ${figures.sync_second_pass_writes} writes; restarted engine ${figures.sync_restart_pass_s} s, ` +
    `${figures.sync_restart_pass_writes} writes; calls ${JSON.stringify({ first: figures.first_calls, second: figures.second_calls, restart: figures.restart_calls })}`)
  const { first_calls: _first, second_calls: _second, restart_calls: _restart, ...kept } = figures
  return kept
}

async function main() {
  const requested = process.argv.slice(2)
  const unknown = requested.filter((name) => !(name in SECTIONS))
  if (unknown.length > 0) {
    log(`unknown part(s) ${unknown.join(', ')}; parts: ${Object.keys(SECTIONS).join(', ')}`)
    process.exitCode = 2
    return
  }
  const names = requested.length > 0 ? Object.keys(SECTIONS).filter((name) => requested.includes(name)) : Object.keys(SECTIONS)
  const startedAt = performance.now()
  const figures = {}
  const failed = []
  const loadAtStart = round(loadavg()[0], 2)
  for (const name of names) {
    const sectionStarted = performance.now()
    log(`== ${name}`)
    try {
      Object.assign(figures, await SECTIONS[name](log))
    } catch (error) {
      failed.push(name)
      log(`${name} FAILED: ${error?.stack ?? error}`)
    }
    log(`== ${name}: ${round((performance.now() - sectionStarted) / 1000)} s`)
  }
  figures.bench_seconds = round((performance.now() - startedAt) / 1000)
  // Other work on the machine moves every wall-clock figure; this says how much there was.
  figures.machine = { cores: availableParallelism(), load_1m_start: loadAtStart, load_1m_end: round(loadavg()[0], 2) }
  if (failed.length > 0) figures.failed_parts = failed

  log('\nfigure                       value      target')
  for (const { key, value, target, met } of verdicts(figures)) {
    log(`${key.padEnd(28)} ${String(value).padStart(9)}  ${target.padEnd(10)} ${met === undefined ? 'not measured' : met ? 'met' : 'MISSED'}`)
  }
  log(`(targets from PRODUCT.md; ${Object.keys(TARGETS).length} checked, reported only)`)
  const busiest = Math.max(figures.machine.load_1m_start, figures.machine.load_1m_end)
  if (busiest > figures.machine.cores) {
    log(`note: load average ${busiest} on ${figures.machine.cores} cores: other processes competed with the benchmark; ` +
      'latency, req/s and ready_ms are pessimistic (CPU per review and the ratios are less affected)')
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`)
  if (failed.length > 0) process.exitCode = 1
}

await main()
