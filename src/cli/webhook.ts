import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.js'
import { readUserFile, UnreadableInputError } from '../io/files.js'
import { createLogger } from '../log.js'
import { createRuntime } from '../runtime.js'
import { WebhookMetrics } from '../server/metrics.js'
import { startWebhookServer } from '../server/server.js'
import { developmentCertificate, readTlsFiles, type TlsFiles } from '../server/tls.js'
import { stopOnSignal } from './shutdown.js'
import { UsageError } from './usage.js'

interface WebhookArgs {
  config: string
  port?: number
  tlsFiles?: TlsFiles
}

export function parseWebhookArgs(argv: string[]): WebhookArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, port: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  })
  if (positionals.length > 0) throw new UsageError(`webhook takes no positional arguments (got ${positionals.join(' ')})`)
  if (!values.config) throw new UsageError('webhook needs --config FILE')
  const args: WebhookArgs = { config: values.config }
  if (values.port !== undefined) {
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, not "${values.port}"`)
    args.port = port
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together')
  if (values['tls-cert'] && values['tls-key']) args.tlsFiles = { certFile: values['tls-cert'], keyFile: values['tls-key'] }
  return args
}

/** `session-guard webhook`: runs until SIGTERM/SIGINT, then drains in-flight reviews and exits. */
export async function runWebhook(argv: string[]): Promise<undefined> {
  const startedAt = performance.now()
  const args = parseWebhookArgs(argv)
  const config = await loadConfig(args.config)
  const logger = createLogger('webhook')
  const metrics = new WebhookMetrics()
  const runtime = await createRuntime(config, { cacheHooks: metrics.cacheHooks() })

  const tlsFiles = args.tlsFiles ?? config.webhook.tls
  if (tlsFiles) await readUserFile(tlsFiles.certFile, 'the TLS certificate')
  const tls = tlsFiles ? await readTlsFiles(tlsFiles).catch((error: Error) => { throw new UnreadableInputError(error.message) }) : await developmentCertificate()
  if (!config.guardrails.allowedRoles) {
    logger.warn('guardrails.allowedRoles is not set: any namespace may use any role; set it on shared clusters')
  }
  const server = await startWebhookServer({
    review: runtime,
    tls,
    ...(tlsFiles ? { tlsFiles } : {}),
    port: args.port ?? config.webhook.port,
    bodyLimitBytes: config.webhook.bodyLimitBytes,
    metrics,
    ...(config.webhook.metricsPort > 0 ? { metricsPort: config.webhook.metricsPort } : {}),
    logger,
  })
  logger.info({
    port: server.port, metricsPort: server.metricsPort, mode: config.mode, baseRoles: config.baseRoles.source,
    tls: tlsFiles ? 'files' : 'development self-signed', startMs: Math.round(performance.now() - startedAt),
  }, 'session-guard webhook ready')

  stopOnSignal(logger, 'draining in-flight reviews, then stopping', () => server.close())
  return undefined
}
