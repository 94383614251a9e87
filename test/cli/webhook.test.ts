import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { CLI, runCli } from '../support/cli.js'
import { fingerprint, httpsRequest, issueServingCertificate, makeCertificateAuthority, postReview, serviceAccountRequest } from '../support/webhook.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sg-webhook-'))
const file = (name: string, content: string) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

// examples/config.yaml as it is, but for its metrics port: a fixed 9090 could be taken on a shared
// machine (and metricsPort: 0 turns metrics off rather than picking a free port).
const exampleText = readFileSync(join(root, 'examples/config.yaml'), 'utf8')
const exampleConfig = async () => file(`config-${Date.now()}.yaml`, exampleText.replace('metricsPort: 9090', `metricsPort: ${await freePort()}`))

type LogLine = Record<string, unknown> & { msg: string }

interface RunningWebhook {
  child: ChildProcess
  ready: LogLine
  logs: LogLine[]
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Spawns `session-guard webhook` and waits for its ready line. */
async function startWebhook(t: Test, args: string[]): Promise<RunningWebhook> {
  const child = spawn(process.execPath, [CLI, 'webhook', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const logs: LogLine[] = []
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  let pending = ''
  const ready = await new Promise<LogLine>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 30 s; stderr: ${stderr}`)), 30_000)
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const entry = JSON.parse(line) as LogLine
        logs.push(entry)
        if (entry.msg === 'session-guard webhook ready') {
          clearTimeout(timer)
          resolve(entry)
        }
      }
    })
    void exited.then(({ code }) => {
      clearTimeout(timer)
      reject(new Error(`the webhook exited (${code}) before it was ready; stderr: ${stderr}`))
    })
  })
  return { child, ready, logs, stderr: () => stderr, exited }
}

t.test('serves the example config over HTTPS with a development certificate, then stops cleanly on SIGTERM', async (t) => {
  const config = await exampleConfig()
  const webhook = await startWebhook(t, ['--config', config, '--port', '0'])
  const port = webhook.ready.port as number
  const metricsPort = webhook.ready.metricsPort as number
  t.match(webhook.ready, { port: Number, metricsPort: Number, mode: 'enforce', baseRoles: 'static', tls: 'development self-signed', startMs: Number })
  t.not(port, 0, 'port 0 picks a free port, printed in the ready line')

  const ready = await httpsRequest(port, '/readyz')
  t.same([ready.status, JSON.parse(ready.body)], [200, { status: 'ready' }])
  const healthz = await httpsRequest(port, '/healthz')
  t.same([healthz.status, JSON.parse(healthz.body)], [200, { status: 'ok' }])

  const outside = {
    'session-guard.dev/role-arn': 'arn:aws:iam::111122223333:role/read-only',
    'session-guard.dev/disable-session-tags': 'true',
    'session-guard.dev/session-policy': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}',
  }
  const denied = await postReview(port, '/validate', serviceAccountRequest('uid-cli', 'team-a', 'sender', outside))
  t.same([denied.status, denied.review.response.uid, denied.review.response.allowed, denied.review.response.status?.code], [200, 'uid-cli', false, 403])
  t.match(denied.review.response.status?.message, /^session-guard: ServiceAccount team-a\/sender has 1 violation:\n\[ACTION_OUTSIDE_BASE_ROLE\] /)

  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), 'session_guard_admission_requests_total{endpoint="validate",operation="CREATE",decision="denied",code="ACTION_OUTSIDE_BASE_ROLE"} 1')

  // An idle keep-alive connection, as kube-apiserver holds them, must not hold the shutdown up.
  const keepAlive = new Agent({ keepAlive: true })
  t.teardown(() => keepAlive.destroy())
  t.equal((await httpsRequest(port, '/healthz', { agent: keepAlive })).status, 200)

  const signalled = Date.now()
  webhook.child.kill('SIGTERM')
  t.same(await webhook.exited, { code: 0, signal: null }, 'exit status 0 after SIGTERM')
  t.ok(Date.now() - signalled < 5_000, 'stopped without waiting for the keep-alive timeout')
  t.same(webhook.logs.slice(-2).map((line) => [line.msg, line.signal]), [
    ['draining in-flight reviews, then stopping', 'SIGTERM'],
    ['stopped', undefined],
  ])
  t.equal(webhook.stderr(), '')
})

t.test('serves the certificate given with --tls-cert and --tls-key', async (t) => {
  const ca = await makeCertificateAuthority()
  const serving = await issueServingCertificate(ca)
  const certFile = file('tls.crt', serving.cert)
  const keyFile = file('tls.key', serving.key)
  const webhook = await startWebhook(t, ['--config', await exampleConfig(), '--port', '0', '--tls-cert', certFile, '--tls-key', keyFile])
  t.equal(webhook.ready.tls, 'files')
  const ready = await httpsRequest(webhook.ready.port as number, '/readyz', { ca: ca.cert })
  t.equal(ready.status, 200)
  t.equal(ready.peerFingerprint, fingerprint(serving.cert), 'verified against the CA that signed it')
  webhook.child.kill('SIGINT')
  t.same(await webhook.exited, { code: 0, signal: null }, 'SIGINT stops it cleanly too')
})

t.test('refuses to start with exit 2 and one line', async (t) => {
  const typo = file('typo.yaml', exampleText.replace('  metricsPort: 9090', '  metricPort: 9090'))
  t.same(await runCli(['webhook', '--config', typo, '--port', '0'], { cwd: root }), {
    code: 2,
    stdout: '',
    stderr: `session-guard: ${typo} is not a valid session-guard config: unknown key webhook.metricPort\n`,
  }, 'a wrong key is named')
  const wrongType = file('wrong-type.yaml', exampleText.replace('mode: enforce', 'mode: audit'))
  t.same(await runCli(['webhook', '--config', wrongType, '--port', '0'], { cwd: root }), {
    code: 2,
    stdout: '',
    stderr: `session-guard: ${wrongType} is not a valid session-guard config: mode must be one of enforce, warn\n`,
  }, 'a wrong value is named')
  const missingKey = join(dir, 'no-such.key')
  const certOnly = file('only.crt', 'not a certificate')
  const missing = await runCli(['webhook', '--config', join(root, 'examples/config.yaml'), '--port', '0', '--tls-cert', certOnly, '--tls-key', missingKey], { cwd: root })
  t.same(missing, { code: 2, stdout: '', stderr: `session-guard: cannot read the TLS key ${missingKey}: ENOENT: no such file or directory, open '${missingKey}'\n` }, 'an unreadable key file is named')

  const noConfig = await runCli(['webhook', '--port', '0'], { cwd: root })
  t.equal(noConfig.code, 2)
  t.equal(noConfig.stdout, '')
  t.match(noConfig.stderr, /^session-guard: webhook needs --config FILE\n\nusage: session-guard <command>/)
  const badPort = await runCli(['webhook', '--config', 'examples/config.yaml', '--port', 'https'], { cwd: root })
  t.equal(badPort.code, 2)
  t.match(badPort.stderr, /^session-guard: --port must be a port number, not "https"\n\nusage:/)
  const halfTls = await runCli(['webhook', '--config', 'examples/config.yaml', '--tls-cert', certOnly], { cwd: root })
  t.equal(halfTls.code, 2)
  t.match(halfTls.stderr, /^session-guard: --tls-cert and --tls-key go together\n\nusage:/)
})
