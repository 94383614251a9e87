/**
 * The sidecar's own HTTP port: `/healthz` (the process answers), `/readyz` (the ServiceAccount cache
 * is complete, leader or not: a standby is ready to take over) and `/metrics` (its own Registry).
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface HealthServer {
  port: number
  close(): Promise<void>
}

export async function startHealthServer(options: {
  port: number
  host?: string
  registry: Registry
  ready: () => boolean
}): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
      response.end(body)
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'method not allowed\n')
    if (path === '/healthz') return reply(200, 'ok\n')
    if (path === '/readyz') return options.ready() ? reply(200, 'ok\n') : reply(503, 'ServiceAccount cache not synced yet\n')
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => reply(200, text, options.registry.contentType),
        (error: unknown) => reply(500, `${String(error)}\n`),
      )
      return
    }
    reply(404, 'not found\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
