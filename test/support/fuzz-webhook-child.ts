/**
 * The webhook as `session-guard webhook` wires it (runtime, metrics, development certificate, the
 * HTTPS server), alone in a process so that the fuzz (test/reliability/fuzz.test.ts) reads its memory
 * undisturbed. Run with --expose-gc and an IPC channel: it sends `{ready, port, cert}`, answers
 * `memory` with process.memoryUsage() after a full collection, and `close` by draining and exiting.
 * Logs (warn and above only: one line per review would cost the load generator) are JSON lines on
 * stdout. Run without an IPC channel (as a test runner listing files would) it does nothing.
 */
import { readFile } from 'node:fs/promises'
import pino from 'pino'
import { parseConfig } from '../../src/config/load.js'
import { createRuntime } from '../../src/runtime.js'
import { WebhookMetrics } from '../../src/server/metrics.js'
import { startWebhookServer } from '../../src/server/server.js'
import { developmentCertificate } from '../../src/server/tls.js'

export type ChildMessage = { type: 'memory' } | { type: 'close' }
export type ParentMessage =
  | { type: 'ready'; port: number; cert: string }
  | { type: 'memory'; usage: NodeJS.MemoryUsage }
  | { type: 'closed' }

const send = (message: ParentMessage) => process.send?.(message)

if (process.send && process.env['FUZZ_WEBHOOK_CONFIG']) {
  const configPath = process.env['FUZZ_WEBHOOK_CONFIG']
  const config = parseConfig(await readFile(configPath, 'utf8'), configPath)
  const metrics = new WebhookMetrics()
  const runtime = await createRuntime(config, { cacheHooks: metrics.cacheHooks() })
  const tls = await developmentCertificate()
  const server = await startWebhookServer({
    review: runtime,
    tls,
    port: 0,
    host: '127.0.0.1',
    bodyLimitBytes: config.webhook.bodyLimitBytes,
    metrics,
    logger: pino({ name: 'webhook', level: 'warn', base: { component: 'webhook' } }),
  })
  const collect = globalThis.gc ?? (() => {})
  let closing = false
  process.on('message', (message: ChildMessage) => {
    if (message.type === 'memory') {
      // Several passes: the first frees objects whose finalizers free more.
      for (let pass = 0; pass < 3; pass++) collect()
      send({ type: 'memory', usage: process.memoryUsage() })
    } else if (message.type === 'close') {
      closing = true
      server.close().then(() => {
        send({ type: 'closed' })
        process.disconnect()
      }, (error: Error) => {
        process.stderr.write(`close failed: ${error.message}\n`)
        process.exit(1)
      })
    }
  })
  // The test process went away without asking: do not outlive it.
  process.on('disconnect', () => {
    if (!closing) void server.close().finally(() => process.exit(0))
  })
  send({ type: 'ready', port: server.port, cert: tls.cert })
}
