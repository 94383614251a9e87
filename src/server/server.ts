import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { ReviewDependencies } from '../admission/review.js'
import admissionApp from './app.js'
import type { WebhookMetrics } from './metrics.js'
import { watchTlsFiles, type TlsFiles, type TlsMaterial } from './tls.js'

export interface WebhookServerOptions {
  review: ReviewDependencies
  tls: TlsMaterial
  /** Certificate files to watch; a rotated pair is served to new connections without a restart. */
  tlsFiles?: TlsFiles
  tlsReloadIntervalMs?: number
  port: number
  host?: string
  bodyLimitBytes: number
  metrics?: WebhookMetrics
  /** Plain-HTTP port for /metrics; 0 picks a free one, undefined disables it. */
  metricsPort?: number
  logger: Logger
}

export interface WebhookServer {
  app: FastifyInstance
  port: number
  metricsPort?: number
  /** Stops taking connections and waits for in-flight reviews (graceful shutdown). */
  close(): Promise<void>
}

/** The HTTPS admission server (timeouts, logger, listen, graceful close); the routes are the app plugin. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  let draining = false
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }), // one line per review is logged by the route
    https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' },
    bodyLimit: options.bodyLimitBytes,
    keepAliveTimeout: 65_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  // kube-apiserver keeps connections alive: without this, a connection whose review was in flight at
  // close would stay open until keepAliveTimeout (65 s), past the pod's grace period. Once draining,
  // every answer closes its connection.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })
  await app.register(admissionApp, { review: options.review, ...(options.metrics ? { metrics: options.metrics } : {}), draining: () => draining })
  await app.listen({ port: options.port, host: options.host ?? '0.0.0.0' })

  const stopWatching = options.tlsFiles
    ? watchTlsFiles(options.tlsFiles, options.tls, options.tlsReloadIntervalMs ?? 5_000, (material) => {
        app.server.setSecureContext?.({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' })
        options.logger.info({ certFile: options.tlsFiles?.certFile }, 'serving a rotated TLS certificate')
      }, (error) => options.logger.warn({ err: error.message }, 'TLS files not reloaded; still serving the previous certificate'))
    : () => {}

  const metricsServer = options.metrics && options.metricsPort !== undefined ? await startMetricsServer(options.metrics, options.metricsPort, options.host) : undefined
  const server: WebhookServer = {
    app,
    port: (app.server.address() as AddressInfo).port,
    async close() {
      draining = true
      stopWatching()
      await Promise.all([app.close(), metricsServer ? new Promise<void>((resolve) => metricsServer.close(() => resolve())) : undefined])
    },
  }
  if (metricsServer) server.metricsPort = (metricsServer.address() as AddressInfo).port
  return server
}

async function startMetricsServer(metrics: WebhookMetrics, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType })
        res.end(text)
      }, (error: Error) => {
        res.writeHead(500).end(error.message)
      })
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n')
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()))
  return server
}
