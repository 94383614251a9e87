/**
 * Child processes of the benchmark: every one is tracked by pid, bounded in time, and stopped (by its
 * own pid, never by name) when the benchmark ends or is interrupted.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const running = new Set()

export const REPO = fileURLToPath(new URL('..', import.meta.url))

export function track(child) {
  running.add(child)
  child.once('exit', () => running.delete(child))
  return child
}

export function stopAll(signal = 'SIGTERM') {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopAll('SIGKILL')
    process.exit(130)
  })
}
process.once('exit', () => stopAll('SIGKILL'))

/** Stops a child and waits for it (SIGKILL after `graceMs`). */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/**
 * Runs `node script args…` (the same Node as the benchmark), relays its stderr with a prefix, and
 * resolves with the JSON object of its last stdout line. Fails on a non-zero exit or after `timeoutMs`.
 */
export function runJsonChild(script, args = [], { timeoutMs = 120_000, label = script, nodeArgs = [], env } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [...nodeArgs, script, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env ? { env: { ...process.env, ...env } } : {}),
    }))
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk })
    relayLines(child.stderr, `  [${label}] `)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${label} did not finish within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const last = stdout.trim().split('\n').at(-1) ?? ''
      if (code !== 0) return reject(new Error(`${label} exited with ${signal ?? code}`))
      try {
        resolve(JSON.parse(last))
      } catch {
        reject(new Error(`${label} did not end with a JSON line (got ${JSON.stringify(last.slice(0, 200))})`))
      }
    })
  })
}

export function relayLines(stream, prefix) {
  let pending = ''
  stream.setEncoding('utf8').on('data', (chunk) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) if (line.trim()) process.stderr.write(`${prefix}${line}\n`)
  })
  stream.on('end', () => {
    if (pending.trim()) process.stderr.write(`${prefix}${pending}\n`)
  })
}
