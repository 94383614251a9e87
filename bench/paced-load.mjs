/**
 * An open-loop, evenly paced load over keep-alive HTTPS, for latency at a given rate.
 *
 * Why not autocannon's `overallRate`: autocannon paces per connection per second — each connection
 * sends back-to-back until its quota for the second is spent, then pauses until the next tick — so at
 * "half load" the server still sees bursts at full speed on every connection, and the latency is that
 * of a saturated server. Here requests are issued on a steady schedule whatever the responses do (no
 * coordinated omission), each timed from the moment it is issued (time spent waiting for a free
 * connection counts) to the end of its response. How late the issuing ran behind the schedule is
 * reported too, so a client that could not keep up is visible.
 */
import { Agent, request } from 'node:https'
import { percentile, round } from './stats.mjs'

const TICK_MS = 1
const REQUEST_TIMEOUT_MS = 10_000
const DRAIN_LIMIT_MS = 15_000

/**
 * @param {object} options
 * @param {string} options.host @param {number} options.port @param {string} options.path
 * @param {string} options.body @param {string} options.ca the server's certificate
 * @param {number} options.rate requests per second @param {number} options.seconds
 * @param {number} options.connections upper bound of keep-alive connections
 * @param {string} [options.expectBody] every response must be exactly this
 * @param {number} [options.warmupSeconds] paced like the rest, not counted
 */
export async function pacedLoad(options) {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, ca: options.ca, servername: 'localhost' })
  const body = Buffer.from(options.body)
  const headers = { 'content-type': 'application/json', 'content-length': body.length }
  const latencies = []
  const lags = []
  const outcome = { sent: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0, mismatches: 0 }
  let inFlight = 0
  const warmupMs = (options.warmupSeconds ?? 0) * 1000
  const totalMs = warmupMs + options.seconds * 1000
  const intervalMs = 1000 / options.rate
  const total = Math.floor(totalMs / intervalMs)

  const issue = (scheduledAt, counted) => {
    const issuedAt = performance.now()
    if (counted) lags.push(issuedAt - scheduledAt)
    inFlight++
    let settled = false
    const done = (kind) => {
      if (settled) return
      settled = true
      inFlight--
      if (!counted) return
      outcome[kind]++
      if (kind === 'ok') latencies.push(performance.now() - issuedAt)
    }
    const req = request({ host: options.host, port: options.port, path: options.path, method: 'POST', headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = []
      res.on('data', (chunk) => chunks.push(chunk))
      res.on('end', () => {
        if (res.statusCode < 200 || res.statusCode > 299) return done('non2xx')
        if (options.expectBody !== undefined && Buffer.concat(chunks).toString('utf8') !== options.expectBody) return done('mismatches')
        done('ok')
      })
      res.on('error', () => done('errors'))
    })
    req.on('timeout', () => {
      req.destroy()
      done('timeouts')
    })
    req.on('error', () => done('errors'))
    req.end(body)
  }

  const started = performance.now()
  await new Promise((resolve) => {
    let next = 0
    const tick = () => {
      const now = performance.now()
      while (next < total && started + next * intervalMs <= now) {
        const scheduledAt = started + next * intervalMs
        const counted = scheduledAt - started >= warmupMs
        if (counted) outcome.sent++
        issue(scheduledAt, counted)
        next++
      }
      if (next < total) setTimeout(tick, TICK_MS)
      else resolve()
    }
    tick()
  })
  const drainDeadline = performance.now() + DRAIN_LIMIT_MS
  while (inFlight > 0 && performance.now() < drainDeadline) await new Promise((resolve) => setTimeout(resolve, 10))
  agent.destroy()
  const lost = outcome.sent - outcome.ok - outcome.non2xx - outcome.errors - outcome.timeouts - outcome.mismatches
  return {
    rate: round(options.rate),
    achieved_rps: round((outcome.sent - lost) / options.seconds),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    max_ms: round(latencies.reduce((max, ms) => Math.max(max, ms), 0)),
    schedule_lag_p99_ms: round(percentile(lags, 99)),
    ...outcome,
    unanswered: lost,
  }
}
