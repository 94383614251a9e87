// A real Kubernetes control plane for the end-to-end suite: etcd and kube-apiserver on free loopback
// ports, with throwaway certificates and an admin token. No kubelet, scheduler or controller manager:
// ServiceAccounts, admission webhooks and Leases live in the API server alone. (Without the
// controller manager a deleted namespace stays Terminating, and namespaces get no default
// ServiceAccount.)
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { createServer, type AddressInfo } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import selfsigned from 'selfsigned'

export interface ControlPlaneOptions {
  /** Extra kube-apiserver flags, after ours (for a repeated flag the last one wins). */
  apiServerArgs?: readonly string[]
  /** How long to wait for `/readyz` once the processes run (default 120 s). */
  readyTimeoutMs?: number
}

export interface CommandResult {
  /** Exit status; 128 + the signal number when the command was killed. */
  code: number
  stdout: string
  stderr: string
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (for `apply -f -`). */
  input?: string
  /** The command is killed after this long (default 60 s). */
  timeoutMs?: number
}

/** The output of each program's version command, as scripts/tools/kube.sh prints it. */
export interface ControlPlaneVersions {
  'kube-apiserver': string
  kubectl: string
  etcd: string
}

export interface ControlPlane {
  /** An admin kubeconfig (token in `system:masters`, CA inline), for kubectl, helm and clients. */
  kubeconfigPath: string
  /** `https://127.0.0.1:<port>` */
  server: string
  /** Bearer token of the admin user. */
  token: string
  /** The CA that signed the API server's serving certificate (PEM file and text). */
  caFile: string
  caPem: string
  /** Where kube-apiserver, kubectl and etcd (and helm, from scripts/tools/helm.sh) live. */
  binDir: string
  /** The temporary directory holding certificates, logs and etcd's data; removed by stop(). */
  dir: string
  versions: ControlPlaneVersions
  /** Runs the kubectl of binDir against this control plane. */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<CommandResult>
  /** Stops etcd and kube-apiserver and removes `dir`. Safe to call twice. */
  stop(): Promise<void>
}

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')
const kubeScript = join(repoRoot, 'scripts/tools/kube.sh')
// Set to keep the temporary directory (logs, certificates) after stop(), for debugging.
const keepDir = process.env.SESSION_GUARD_E2E_KEEP_DIR === '1'

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const [tools, dir] = await Promise.all([provideBinaries(), mkdtemp(join(tmpdir(), 'session-guard-kube-'))])
  const cleanup = new Cleanup(dir)
  try {
    const files = await writeCredentials(dir)
    const { server, processes } = await startProcesses(tools.binDir, files, cleanup, opts)
    const kubeconfigPath = join(dir, 'kubeconfig')
    await writeFile(kubeconfigPath, kubeconfig(server, files))
    return {
      kubeconfigPath,
      server,
      token: files.token,
      caFile: files.caFile,
      caPem: files.caPem,
      binDir: tools.binDir,
      dir,
      versions: tools.versions,
      kubectl: (args, kubectlOpts) =>
        run(join(tools.binDir, 'kubectl'), args, {
          ...kubectlOpts,
          env: { ...process.env, KUBECONFIG: kubeconfigPath, KUBECACHEDIR: join(dir, 'kube-cache') },
        }),
      stop: once(() => cleanup.stop(processes)),
    }
  } catch (error) {
    await cleanup.stop([])
    throw error
  }
}

// --- binaries -------------------------------------------------------------------------------

interface Tools {
  binDir: string
  versions: ControlPlaneVersions
}

let binaries: Promise<Tools> | undefined

/**
 * Runs kube.sh once per process, every time rather than only when a binary is missing, so that a
 * version bump in test/e2e/go is picked up: a fifth of a second when built, a Go build of several
 * minutes on a new machine (its progress goes to stderr).
 */
function provideBinaries(): Promise<Tools> {
  binaries ??= (async () => {
    const result = await run(kubeScript, [], { timeoutMs: 50 * 60_000, stderr: 'inherit' })
    if (result.code !== 0) throw new Error(`${kubeScript} failed with status ${result.code}`)
    const lines = result.stdout.trim().split('\n')
    const versionOf = (name: keyof ControlPlaneVersions): string => {
      const line = lines.find((l) => l.startsWith(`${name}: `))
      if (line === undefined) throw new Error(`${kubeScript} printed no ${name} version:\n${result.stdout}`)
      return line.slice(name.length + 2)
    }
    return {
      binDir: lines.at(-1) ?? '',
      versions: { 'kube-apiserver': versionOf('kube-apiserver'), kubectl: versionOf('kubectl'), etcd: versionOf('etcd') },
    }
  })()
  return binaries
}

// --- credentials ----------------------------------------------------------------------------

interface Credentials {
  dir: string
  token: string
  caFile: string
  caPem: string
  caKeyFile: string
  servingCertFile: string
  servingKeyFile: string
  etcdCertFile: string
  etcdKeyFile: string
  etcdClientCertFile: string
  etcdClientKeyFile: string
  serviceAccountKeyFile: string
  serviceAccountPublicKeyFile: string
  tokenFile: string
}

const oneDay = 24 * 60 * 60 * 1000

async function writeCredentials(dir: string): Promise<Credentials> {
  const notBeforeDate = new Date(Date.now() - 60_000)
  const notAfterDate = new Date(Date.now() + oneDay)
  const common = { keyType: 'ec', algorithm: 'sha256', notBeforeDate, notAfterDate } as const
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'session-guard e2e CA' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  })
  const issue = (commonName: string, usage: { serverAuth?: true; clientAuth?: true }) =>
    selfsigned.generate([{ name: 'commonName', value: commonName }], {
      ...common,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', ...usage },
        ...(usage.serverAuth
          ? [{ name: 'subjectAltName' as const, altNames: [{ type: 2 as const, value: 'localhost' }, { type: 7 as const, ip: '127.0.0.1' }] }]
          : []),
      ],
    })
  const [serving, etcd, etcdClient] = await Promise.all([
    issue('kube-apiserver', { serverAuth: true }),
    issue('etcd', { serverAuth: true }),
    issue('kube-apiserver-etcd-client', { clientAuth: true }),
  ])
  const serviceAccount = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const token = randomBytes(24).toString('hex')

  const files: Record<string, string> = {
    'ca.crt': ca.cert,
    'ca.key': ca.private,
    'apiserver.crt': serving.cert,
    'apiserver.key': serving.private,
    'etcd.crt': etcd.cert,
    'etcd.key': etcd.private,
    'etcd-client.crt': etcdClient.cert,
    'etcd-client.key': etcdClient.private,
    'service-account.key': serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    'service-account.pub': serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    // token,user,uid,"groups"
    'tokens.csv': `${token},session-guard-e2e-admin,session-guard-e2e-admin,"system:masters"\n`,
  }
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text, { mode: 0o600 })))
  return {
    dir,
    token,
    caFile: join(dir, 'ca.crt'),
    caPem: ca.cert,
    caKeyFile: join(dir, 'ca.key'),
    servingCertFile: join(dir, 'apiserver.crt'),
    servingKeyFile: join(dir, 'apiserver.key'),
    etcdCertFile: join(dir, 'etcd.crt'),
    etcdKeyFile: join(dir, 'etcd.key'),
    etcdClientCertFile: join(dir, 'etcd-client.crt'),
    etcdClientKeyFile: join(dir, 'etcd-client.key'),
    serviceAccountKeyFile: join(dir, 'service-account.key'),
    serviceAccountPublicKeyFile: join(dir, 'service-account.pub'),
    tokenFile: join(dir, 'tokens.csv'),
  }
}

function kubeconfig(server: string, files: Credentials): string {
  const name = 'session-guard-e2e'
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(files.caPem).toString('base64') } }],
    users: [{ name: 'admin', user: { token: files.token } }],
    contexts: [{ name, context: { cluster: name, user: 'admin' } }],
    'current-context': name,
  }, null, 2)
}

// --- processes ------------------------------------------------------------------------------

interface Ports {
  etcdClient: number
  etcdPeer: number
  apiServer: number
}

const portAttempts = 3

/** Starts etcd and kube-apiserver; retries with new ports if another process took one meanwhile. */
async function startProcesses(binDir: string, files: Credentials, cleanup: Cleanup, opts: ControlPlaneOptions) {
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts()
    const etcdDir = join(files.dir, `etcd-${attempt}`)
    const etcd = cleanup.spawn('etcd', join(binDir, 'etcd'), etcdArgs(ports, etcdDir, files))
    const apiServer = cleanup.spawn('kube-apiserver', join(binDir, 'kube-apiserver'), [
      ...apiServerArgs(ports, files),
      ...(opts.apiServerArgs ?? []),
    ])
    const server = `https://127.0.0.1:${ports.apiServer}`
    try {
      await waitForReady(server, files, [etcd, apiServer], opts.readyTimeoutMs ?? 120_000)
      return { server, processes: [apiServer, etcd] }
    } catch (error) {
      for (const managed of [apiServer, etcd]) await managed.stop()
      const portTaken = [apiServer, etcd].some((p) => /address already in use/.test(p.logTail()))
      if (!portTaken || attempt === portAttempts) throw error
    }
  }
}

function etcdArgs(ports: Ports, dataDir: string, files: Credentials): string[] {
  const client = `https://127.0.0.1:${ports.etcdClient}`
  const peer = `http://127.0.0.1:${ports.etcdPeer}`
  return [
    '--name=e2e',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=e2e=${peer}`,
    `--cert-file=${files.etcdCertFile}`,
    `--key-file=${files.etcdKeyFile}`,
    `--trusted-ca-file=${files.caFile}`,
    '--client-cert-auth',
    // The data is thrown away at the end; skipping fsync makes writes (and the suite) much faster.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]
}

function apiServerArgs(ports: Ports, files: Credentials): string[] {
  return [
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ports.apiServer}`,
    `--cert-dir=${join(files.dir, 'apiserver-certs')}`,
    `--tls-cert-file=${files.servingCertFile}`,
    `--tls-private-key-file=${files.servingKeyFile}`,
    `--client-ca-file=${files.caFile}`,
    `--etcd-servers=https://127.0.0.1:${ports.etcdClient}`,
    `--etcd-cafile=${files.caFile}`,
    `--etcd-certfile=${files.etcdClientCertFile}`,
    `--etcd-keyfile=${files.etcdClientKeyFile}`,
    `--token-auth-file=${files.tokenFile}`,
    '--anonymous-auth=false',
    '--authorization-mode=RBAC',
    // On top of the default plugins; named to say what the suite relies on.
    '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${files.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${files.serviceAccountKeyFile}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    // A lone API server with no nodes: nothing to reconcile into the kubernetes Endpoints.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ]
}

/** Free loopback ports, held open together so that none is handed out twice. */
async function freePorts(): Promise<Ports> {
  const servers = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<ReturnType<typeof createServer>>((resolveServer, reject) => {
          const server = createServer()
          server.once('error', reject)
          server.listen(0, '127.0.0.1', () => resolveServer(server))
        }),
    ),
  )
  const [etcdClient, etcdPeer, apiServer] = servers.map((s) => (s.address() as AddressInfo).port) as [number, number, number]
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))))
  return { etcdClient, etcdPeer, apiServer }
}

async function waitForReady(server: string, files: Credentials, processes: Managed[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastAnswer = 'no answer yet'
  for (;;) {
    const exited = processes.find((p) => p.exitCode() !== undefined)
    if (exited) {
      throw new Error(`${exited.name} exited with status ${exited.exitCode()} while starting:\n${exited.logTail()}`)
    }
    lastAnswer = await readyz(server, files).catch((error: Error) => error.message)
    if (lastAnswer === 'ok') return
    if (Date.now() > deadline) {
      const logs = processes.map((p) => `--- ${p.name}\n${p.logTail()}`).join('\n')
      throw new Error(`kube-apiserver was not ready within ${timeoutMs} ms (last /readyz: ${lastAnswer})\n${logs}`)
    }
    await sleep(100)
  }
}

function readyz(server: string, files: Credentials): Promise<string> {
  return new Promise((resolveAnswer, reject) => {
    const req = request(`${server}/readyz`, { ca: files.caPem, headers: { authorization: `Bearer ${files.token}` }, timeout: 5_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolveAnswer(res.statusCode === 200 ? 'ok' : `HTTP ${res.statusCode}: ${body.slice(-2_000)}`))
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end()
  })
}

// --- process lifetime -----------------------------------------------------------------------

interface Managed {
  name: string
  exitCode(): number | undefined
  logTail(): string
  stop(): Promise<void>
}

const live = new Set<Cleanup>()
let exitHookInstalled = false

/**
 * Owns the processes and the directory of one control plane. Three layers make sure nothing
 * outlives the test process: stop(); a synchronous kill on process 'exit' (a failed test still
 * exits); and a detached reaper shell that kills the processes and removes the directory when
 * the test process is gone without running its exit hooks (a signal or SIGKILL closes the pipe
 * the reaper reads).
 */
class Cleanup {
  readonly #dir: string
  readonly #reaper: ChildProcess
  readonly #spawned: ChildProcess[] = []

  constructor(dir: string) {
    this.#dir = dir
    const reaperScript = 'pids=; while read -r pid; do pids="$pids $pid"; done; kill -KILL $pids 2>/dev/null; [ -z "$1" ] || rm -rf "$1"'
    this.#reaper = spawn('sh', ['-c', reaperScript, 'reaper', keepDir ? '' : dir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
    this.#reaper.unref()
    ;(this.#reaper.stdin as unknown as { unref(): void }).unref()
    live.add(this)
    if (!exitHookInstalled) {
      exitHookInstalled = true
      process.on('exit', () => {
        for (const cleanup of live) cleanup.stopNow()
      })
    }
  }

  spawn(name: string, command: string, args: readonly string[]): Managed {
    const logFile = join(this.#dir, `${name}.log`)
    const log = openSync(logFile, 'a')
    const child = spawn(command, args, { stdio: ['ignore', log, log] })
    closeSync(log)
    child.unref() // a forgotten stop() must not keep the test process alive; the exit hook kills it
    child.on('error', () => {}) // reported through exitCode() and the log
    if (child.pid !== undefined) {
      this.#spawned.push(child)
      this.#reaper.stdin?.write(`${child.pid}\n`)
    }
    const exited = new Promise<void>((done) => child.once('exit', () => done()))
    return {
      name,
      exitCode: () => (child.pid === undefined ? 127 : exitStatus(child.exitCode, child.signalCode)),
      logTail: () => readTail(logFile),
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
        child.kill('SIGTERM')
        const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])
        if (!killed) {
          child.kill('SIGKILL')
          await exited
        }
      },
    }
  }

  /** Stops the processes one after the other: etcd takes seconds to stop while kube-apiserver still watches it. */
  async stop(processes: readonly Managed[]): Promise<void> {
    for (const managed of processes) await managed.stop()
    this.stopNow()
  }

  /** Synchronous: usable from an 'exit' handler. */
  stopNow(): void {
    for (const child of this.#spawned) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    this.#reaper.kill('SIGKILL')
    if (keepDir) console.error(`control plane files kept in ${this.#dir}`)
    else rmSync(this.#dir, { recursive: true, force: true })
    live.delete(this)
  }
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number | undefined {
  if (code !== null) return code
  if (signal !== null) return 128 + (constants.signals[signal] ?? 0)
  return undefined
}

function readTail(file: string, bytes = 8_000): string {
  try {
    const text = readFileSync(file, 'utf8')
    return text.length > bytes ? `...${text.slice(-bytes)}` : text
  } catch {
    return '(no log)'
  }
}

function once(action: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined
  return () => (result ??= action())
}

// --- commands -------------------------------------------------------------------------------

interface RunOptions extends KubectlOptions {
  env?: NodeJS.ProcessEnv
  /** 'inherit' passes the command's stderr through (progress of long builds). */
  stderr?: 'pipe' | 'inherit'
}

function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolveResult, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', opts.stderr ?? 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolveResult({ code: exitStatus(code, signal) ?? -1, stdout, stderr })
    })
    child.stdin?.on('error', () => {}) // a command that exits without reading its input
    child.stdin?.end(opts.input ?? '')
  })
}
