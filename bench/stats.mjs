/** Small statistics over samples in milliseconds. */

export function sorted(samples) {
  return Float64Array.from(samples).sort()
}

/** The p-th percentile (0–100) by the nearest-rank method. */
export function percentile(samples, p) {
  if (samples.length === 0) return Number.NaN
  const ordered = sorted(samples)
  const rank = Math.ceil((p / 100) * ordered.length)
  return ordered[Math.min(ordered.length, Math.max(1, rank)) - 1]
}

export function median(samples) {
  if (samples.length === 0) return Number.NaN
  const ordered = sorted(samples)
  const middle = ordered.length >> 1
  return ordered.length % 2 === 1 ? ordered[middle] : (ordered[middle - 1] + ordered[middle]) / 2
}

/** Rounds for the report: 3 significant decimals below 10, fewer above. */
export function round(value, digits = value < 10 ? 3 : value < 100 ? 2 : 1) {
  if (!Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
