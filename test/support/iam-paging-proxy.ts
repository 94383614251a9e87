/**
 * A loopback HTTP proxy in front of moto_server that records the IAM actions it forwards and adds the
 * one piece of IAM behaviour moto 5.2 lacks: ListRolePolicies ignores MaxItems and Marker there, so the
 * proxy cuts moto's full answer into IAM-style pages (IsTruncated + an opaque Marker). Every other
 * answer passes through unchanged.
 */
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface IamRequest {
  action: string
  params: Record<string, string>
}

export interface IamPagingProxy {
  endpoint: string
  /** Every IAM request forwarded, in order of arrival. */
  requests: IamRequest[]
  stop(): Promise<void>
}

export async function startIamPagingProxy(target: string): Promise<IamPagingProxy> {
  const requests: IamRequest[] = []
  const server = createServer((incoming, outgoing) => {
    void readBody(incoming).then(async (body) => {
      const params = Object.fromEntries(new URLSearchParams(body.toString()))
      const action = params.Action ?? ''
      requests.push({ action, params })
      const answer = await forward(target, incoming, body)
      const payload = action === 'ListRolePolicies' && answer.status === 200 ? pageRolePolicies(answer.body.toString(), params) : answer.body
      outgoing.writeHead(answer.status, { 'content-type': answer.contentType })
      outgoing.end(payload)
    }).catch((error: unknown) => {
      outgoing.writeHead(502, { 'content-type': 'text/plain' })
      outgoing.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

/** Pages moto's complete PolicyNames list; the Marker is the index of the next name. */
function pageRolePolicies(xml: string, params: Record<string, string>): string {
  const names = [...xml.matchAll(/<member>([^<]*)<\/member>/g)].map((match) => match[1] ?? '')
  const start = params.Marker === undefined ? 0 : Number(params.Marker)
  const size = params.MaxItems === undefined ? 100 : Number(params.MaxItems)
  const page = names.slice(start, start + size)
  const truncated = start + size < names.length
  const result = `<PolicyNames>${page.map((name) => `<member>${name}</member>`).join('')}</PolicyNames>` +
    `<IsTruncated>${truncated}</IsTruncated>${truncated ? `<Marker>${start + size}</Marker>` : ''}`
  return xml.replace(/<PolicyNames>[\s\S]*<\/IsTruncated>/, result)
}

interface Answer {
  status: number
  contentType: string
  body: Buffer
}

function forward(target: string, incoming: IncomingMessage, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const upstream = request(new URL(incoming.url ?? '/', target), { method: incoming.method, headers: incoming.headers }, (response) => {
      void readBody(response).then((answerBody) => resolve({
        status: response.statusCode ?? 502,
        contentType: response.headers['content-type'] ?? 'text/xml',
        body: answerBody,
      }), reject)
    })
    upstream.on('error', reject)
    upstream.end(body)
  })
}

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}
