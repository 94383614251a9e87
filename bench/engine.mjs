/** The engine figures: each measured in fresh child processes (bench/engine-probe.mjs). */
import { runJsonChild } from './children.mjs'
import { median, round } from './stats.mjs'

const COLD_PROCESSES = 3

export async function measureEngine(log) {
  const cold = []
  for (let i = 0; i < COLD_PROCESSES; i++) {
    cold.push(await runJsonChild('bench/engine-probe.mjs', ['cold'], { label: 'engine cold', timeoutMs: 60_000 }))
  }
  const bare = await runJsonChild('bench/engine-probe.mjs', ['bare'], { label: 'engine bare', timeoutMs: 60_000 })
  const warm = await runJsonChild('bench/engine-probe.mjs', ['warm'], { label: 'engine warm', timeoutMs: 90_000 })
  log(`engine: ${warm.checks} warm checks, median ${warm.median_ms} ms, p99 ${warm.p99_ms} ms; ` +
    `first check against a new role ${cold.map((c) => `${c.cold_ms} (compile ${c.compile_ms} + check ${c.check_ms}; CPU ${c.cold_cpu_ms})`).join(', ')} ms; ` +
    `bare process ${bare.cold_ms} ms; new role in a warm process ${warm.new_role_in_warm_process_ms} ms; ` +
    `policy ${cold[0].normalized_length} normalized chars, base role ${cold[0].base_role_chars} chars`)
  return {
    engine_median_ms: warm.median_ms,
    engine_cold_ms: round(median(cold.map((c) => c.cold_ms))),
    engine_p99_ms: warm.p99_ms,
    engine_cold_samples_ms: cold.map((c) => c.cold_ms),
    engine_cold_cpu_ms: round(median(cold.map((c) => c.cold_cpu_ms))),
    engine_cold_bare_ms: bare.cold_ms,
    engine_new_role_warm_process_ms: warm.new_role_in_warm_process_ms,
    engine_policy_chars: cold[0].normalized_length,
  }
}
