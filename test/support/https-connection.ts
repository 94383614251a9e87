/**
 * A lean HTTP/1.1 keep-alive client over one TLS connection, for load that should cost the test far
 * less CPU than the server under test (node:https spends most of a small request on bookkeeping).
 * One request at a time; answers must carry a Content-Length, as Fastify's do. Connection errors are
 * never retried: they are reported to the caller.
 */
import { connect, type SecureContext, type TLSSocket } from 'node:tls'

export interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: Buffer
}

interface Pending {
  resolve: (answer: RawAnswer) => void
  reject: (error: Error) => void
}

const HEAD_END = Buffer.from('\r\n\r\n')

export class HttpsConnection {
  private received: Buffer = Buffer.alloc(0)
  private pending: Pending | undefined
  private closed = false
  /** Whether the server answered `connection: close` (or closed): open a new connection. */
  get usable(): boolean {
    return !this.closed
  }

  private constructor(private readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.fail(error))
    socket.on('close', () => this.fail(new Error('the server closed the connection before answering')))
  }

  /**
   * Opens a verified TLS connection. With `session` (from an earlier connection's `session` event) the
   * handshake resumes that session, as clients of a webhook do, instead of verifying the certificate
   * again.
   */
  static open(port: number, secureContext: SecureContext, options: { session?: Buffer; onSession?: (session: Buffer) => void } = {}): Promise<HttpsConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, secureContext, servername: 'localhost', ...(options.session ? { session: options.session } : {}) })
      if (options.onSession) socket.on('session', options.onSession)
      socket.once('secureConnect', () => {
        socket.off('error', reject)
        socket.setNoDelay(true)
        resolve(new HttpsConnection(socket))
      })
      socket.once('error', reject)
    })
  }

  request(method: string, path: string, headers: Record<string, string | number>, body: Buffer, timeoutMs = 30_000): Promise<RawAnswer> {
    if (this.pending || this.closed) return Promise.reject(new Error('the connection is busy or closed'))
    return new Promise<RawAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      this.pending = {
        resolve: (answer) => (clearTimeout(timer), resolve(answer)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      }
      const lines = [`${method} ${path} HTTP/1.1`, 'host: localhost', `content-length: ${body.length}`]
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
      this.socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]))
    })
  }

  /** Whether the handshake resumed an earlier TLS session. */
  get resumed(): boolean {
    return this.socket.isSessionReused()
  }

  close(): void {
    this.closed = true
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk])
    const headEnd = this.received.indexOf(HEAD_END)
    if (headEnd < 0 || !this.pending) return
    const [statusLine = '', ...headerLines] = this.received.subarray(0, headEnd).toString('latin1').split('\r\n')
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine)
    const headers: Record<string, string> = {}
    for (const line of headerLines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'])
    if (!status || !Number.isInteger(length)) return this.fail(new Error(`an answer without a status line or content-length: ${statusLine}`))
    const end = headEnd + HEAD_END.length + length
    if (this.received.length < end) return
    const answer = { status: Number(status[1]), headers, body: Buffer.from(this.received.subarray(headEnd + HEAD_END.length, end)) }
    if (this.received.length > end) return this.fail(new Error('the server sent more than one answer'))
    this.received = Buffer.alloc(0)
    const pending = this.pending
    this.pending = undefined
    if (headers['connection']?.toLowerCase() === 'close') this.close()
    pending.resolve(answer)
  }

  private fail(error: Error): void {
    const pending = this.pending
    this.pending = undefined
    if (!this.closed) this.close()
    pending?.reject(error)
  }
}
