/** The targets of PRODUCT.md, and how each figure compares with its own. */

export const TARGETS = {
  ratio: { at: 0.6, better: 'higher' },
  p99_ms_at_half_load: { at: 5, better: 'lower' },
  errors: { at: 0, better: 'lower' },
  rss_mb: { at: 200, better: 'lower' },
  engine_median_ms: { at: 1, better: 'lower' },
  engine_cold_ms: { at: 50, better: 'lower' },
  ready_ms: { at: 1500, better: 'lower' },
  sync_converge_s: { at: 60, better: 'lower' },
  sync_second_pass_writes: { at: 0, better: 'lower' },
}

/** One row per target: the figure, the target as text, and whether it is met (undefined: not measured). */
export function verdicts(figures) {
  return Object.entries(TARGETS).map(([key, { at, better }]) => {
    const value = figures[key]
    const target = `${better === 'higher' ? '>=' : '<='} ${at}`
    const measured = typeof value === 'number' && Number.isFinite(value)
    const met = measured ? (better === 'higher' ? value >= at : value <= at) : undefined
    return { key, value: value ?? '-', target, met }
  })
}
