/**
 * The end-to-end environment: everything a user of session-guard touches, real and on loopback.
 *
 * - etcd + kube-apiserver (test/support/control-plane.ts), driven with the real kubectl;
 * - moto_server as IAM, holding the base roles;
 * - the EKS emulator (test/support/eks-emulator.ts) as the Pod Identity API;
 * - the chart, installed with the real helm in URL mode: both webhooks point at
 *   `https://127.0.0.1:<port>` and trust a CA made here;
 * - `session-guard webhook` (dist/cli.js) serving that URL with a certificate for 127.0.0.1;
 * - `session-guard sync` processes, authenticated as the chart's own ServiceAccount (a TokenRequest
 *   token), so they run with exactly the RBAC the chart grants and their annotation writes take the
 *   chart's webhook exemption.
 *
 * Both processes read the config file the chart rendered into its ConfigMap (only their local ports
 * are changed), so the chart's values are what drives them. stop() ends everything, also when start
 * fails half-way; a process 'exit' hook (and setpriv's parent-death signal) kills the children of a
 * test that dies without stopping.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateRoleCommand, PutRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam'
import selfsigned from 'selfsigned'
import { parse, stringify } from 'yaml'
import { CLI } from './cli.js'
import { startControlPlane, type CommandResult, type ControlPlane } from './control-plane.js'
import { startEksEmulator, type EksEmulator } from './eks-emulator.js'
import { chartDir, releaseName, releaseNamespace, runHelm, withValues } from './helm.js'
import { iamClientFor, startMoto, type Moto } from './moto.js'
import { until } from './until.js'

export const clusterName = 'e2e'
export const region = 'eu-west-1'
/** moto's account: every role created in it lives here. */
export const accountId = '123456789012'
export const prefix = 'session-guard.dev'
/** The chart's ServiceAccount (release name = chart name, so the full name is the release name). */
export const syncServiceAccount = releaseName
/** Written into the tags of every association this installation creates (the chart's default). */
export const installationId = `${releaseNamespace}/${releaseName}`

export const roleArn = (name: string): string => `arn:aws:iam::${accountId}:role/${name}`

export interface E2eOptions {
  /** Roles created in moto: name → inline policy documents (name → document). */
  baseRoles: Record<string, Record<string, unknown>>
  /** Helm values merged over the suite's own (URL mode, IAM and EKS endpoints, short lease). */
  values?: Record<string, unknown>
  /** Sync processes started with the environment (default 1). */
  syncProcesses?: number
}

export interface ManagedProcess {
  name: string
  /** Every JSON log line printed so far (non-JSON lines as `{ text }`). */
  logs: Record<string, unknown>[]
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>
  running(): boolean
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>
  kill(signal: NodeJS.Signals): void
}

export interface SyncProcess extends ManagedProcess {
  /** Port of its /healthz, /readyz and /metrics. */
  port: number
  /** The Lease holder identity it uses (from its own "leading" / "standing by" log lines). */
  identity(): string | undefined
  isLeading(): boolean
}

export interface E2eEnv {
  plane: ControlPlane
  moto: Moto
  iam: IAMClient
  emulator: EksEmulator
  /** kube-apiserver, etcd, kubectl, helm: what each printed for its version. */
  versions: Record<'kube-apiserver' | 'etcd' | 'kubectl' | 'helm', string>
  webhookUrl: string
  webhook: ManagedProcess
  syncs: SyncProcess[]
  kubectl(args: readonly string[], input?: string): Promise<CommandResult>
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(args: readonly string[], input?: string): Promise<string>
  /** `kubectl apply -f -` of the objects (JSON documents) with extra flags. */
  apply(objects: object | object[], flags?: readonly string[]): Promise<CommandResult>
  /** The ServiceAccount's annotations, or undefined when it does not exist. */
  annotationsOf(namespace: string, name: string): Promise<Record<string, string> | undefined>
  /** `kubectl get events` of one object: "TYPE REASON MESSAGE" per line, oldest first. */
  eventsOf(namespace: string, name: string): Promise<string[]>
  helmUpgrade(values: Record<string, unknown>): Promise<CommandResult>
  startWebhook(): Promise<ManagedProcess>
  startSync(name: string): Promise<SyncProcess>
  /** Where the processes' config files, certificates and kubeconfigs are. */
  dir: string
  stop(): Promise<void>
}

export function serviceAccount(namespace: string, name: string, annotations: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, annotations } }
}

export function namespaceObject(name: string): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }
}

export { until }

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((listening, failed) => {
    server.once('error', failed)
    server.listen(0, '127.0.0.1', listening)
  })
  const { port } = server.address() as AddressInfo
  await new Promise((closed) => server.close(closed))
  return port
}

export async function startE2eEnv(options: E2eOptions): Promise<E2eEnv> {
  const stack: (() => Promise<unknown>)[] = []
  const stopAll = once(async () => {
    for (const stop of stack.reverse()) await stop().catch(() => undefined)
  })
  try {
    return await build(options, stack, stopAll)
  } catch (error) {
    await stopAll()
    throw error
  }
}

async function build(options: E2eOptions, stack: (() => Promise<unknown>)[], stop: () => Promise<void>): Promise<E2eEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'session-guard-e2e-'))
  stack.push(() => rm(dir, { recursive: true, force: true }))

  // Started together; each registers its stop once started, so a failure of one stops the others.
  const track = <T>(starting: Promise<T>, stopOf: (started: T) => Promise<unknown>): Promise<T> =>
    starting.then((started) => {
      stack.push(() => stopOf(started))
      return started
    })
  const starts = [
    track(startControlPlane(), (plane) => plane.stop()),
    track(startMoto(), (moto) => moto.stop()),
    track(startEksEmulator({ clusters: [clusterName], region, accountId }), (emulator) => emulator.close()),
  ] as const
  await Promise.allSettled(starts)
  const [plane, moto, emulator] = await Promise.all(starts)
  const [tls, webhookPort] = await Promise.all([webhookCertificates(), freePort()])
  const iam = iamClientFor(moto.endpoint)
  stack.push(async () => iam.destroy())
  await createBaseRoles(iam, options.baseRoles)

  const kubectl = (args: readonly string[], input?: string) => plane.kubectl(args, input === undefined ? {} : { input })
  const kubectlOk = async (args: readonly string[], input?: string): Promise<string> => {
    const result = await kubectl(args, input)
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
    return result.stdout
  }

  const webhookUrl = `https://127.0.0.1:${webhookPort}`
  const values = withValues(
    {
      config: {
        clusterName,
        region,
        baseRoles: { source: 'iam', iam: { endpoint: moto.endpoint, cacheTtlSeconds: 2, lookupTimeoutSeconds: 3 } },
      },
      webhook: { url: webhookUrl, metricsPort: 0 },
      tls: { caBundle: tls.caPem },
      sync: { eksEndpoint: emulator.endpoint, resyncSeconds: 300, lease: { durationSeconds: 3, renewSeconds: 1 } },
    },
    options.values ?? {},
  ) as Record<string, unknown>
  const helm = (args: string[], helmValues: unknown) => runHelm(args, helmValues, { kubeconfig: plane.kubeconfigPath })
  const installed = await helm(['install', releaseName, chartDir, '--namespace', releaseNamespace, '--create-namespace'], values)
  if (installed.code !== 0) throw new Error(`helm install failed (${installed.code}): ${installed.stderr}`)
  const helmVersion = await helm(['version', '--template', 'Helm {{.Version}} ({{.GoVersion}})'], undefined)

  // The config file exactly as the chart rendered it, and a kubeconfig of the chart's ServiceAccount.
  const renderedConfig = parse(
    await kubectlOk(['get', 'configmap', releaseName, '--namespace', releaseNamespace, '-o', 'jsonpath={.data.config\\.yaml}']),
  ) as Record<string, Record<string, unknown>>
  const syncToken = (
    await kubectlOk(['create', 'token', syncServiceAccount, '--namespace', releaseNamespace, '--duration', '2h'])
  ).trim()
  const syncKubeconfig = join(dir, 'sync-kubeconfig')
  await writeFile(syncKubeconfig, serviceAccountKubeconfig(plane, syncToken), { mode: 0o600 })
  const certFile = join(dir, 'tls.crt')
  const keyFile = join(dir, 'tls.key')
  await writeFile(certFile, tls.cert)
  await writeFile(keyFile, tls.key, { mode: 0o600 })

  const processEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    NODE_ENV: 'production',
  }

  const startWebhook = async (): Promise<ManagedProcess> => {
    const configFile = join(dir, 'webhook-config.yaml')
    await writeFile(configFile, stringify(renderedConfig))
    const webhook = spawnCli('webhook', ['webhook', '--config', configFile, '--port', String(webhookPort), '--tls-cert', certFile, '--tls-key', keyFile], processEnv)
    stack.push(() => webhook.stop())
    await until(() => webhook.logs.some((l) => l.msg === 'session-guard webhook ready') || !webhook.running(), 'the webhook to be ready', 30_000, 50)
    if (!webhook.running()) throw new Error(`the webhook exited: ${JSON.stringify(webhook.logs)}`)
    return webhook
  }

  const startSync = async (name: string): Promise<SyncProcess> => {
    const port = await freePort()
    const configFile = join(dir, `${name}-config.yaml`)
    await writeFile(configFile, stringify({ ...renderedConfig, sync: { ...renderedConfig.sync, port } }))
    const managed = spawnCli(name, ['sync', '--config', configFile], { ...processEnv, KUBECONFIG: syncKubeconfig })
    stack.push(() => managed.stop())
    const leadership = () => managed.logs.filter((l) => l.msg === 'leading' || l.msg === 'standing by')
    const sync: SyncProcess = {
      ...managed,
      port,
      identity: () => leadership()[0]?.identity as string | undefined,
      isLeading: () => leadership().at(-1)?.msg === 'leading',
    }
    await until(async () => !managed.running() || (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false)), `${name} to be ready`, 30_000, 50)
    if (!managed.running()) throw new Error(`${name} exited: ${JSON.stringify(managed.logs)}`)
    return sync
  }

  const webhook = await startWebhook()
  const syncs: SyncProcess[] = []
  for (let i = 0; i < (options.syncProcesses ?? 1); i++) syncs.push(await startSync(`sync-${i}`))

  return {
    plane,
    moto,
    iam,
    emulator,
    versions: {
      'kube-apiserver': plane.versions['kube-apiserver'],
      etcd: plane.versions.etcd,
      kubectl: plane.versions.kubectl,
      helm: helmVersion.stdout.trim(),
    },
    webhookUrl,
    webhook,
    syncs,
    kubectl,
    kubectlOk,
    apply: (objects, flags = []) =>
      kubectl(['apply', ...flags, '-f', '-'], (Array.isArray(objects) ? objects : [objects]).map((o) => JSON.stringify(o)).join('\n---\n')),
    annotationsOf: async (namespace, name) => {
      const result = await kubectl(['get', 'serviceaccount', name, '--namespace', namespace, '-o', 'json'])
      if (result.code !== 0) {
        if (/NotFound/.test(result.stderr)) return undefined
        throw new Error(`kubectl get serviceaccount failed: ${result.stderr}`)
      }
      return (JSON.parse(result.stdout) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {}
    },
    eventsOf: async (namespace, name) => {
      const out = await kubectlOk([
        'get', 'events', '--namespace', namespace, '--field-selector', `involvedObject.name=${name}`,
        '--sort-by', '.metadata.creationTimestamp', '-o', 'jsonpath={range .items[*]}{.type} {.reason} {.message}{"\\n"}{end}',
      ])
      return out.split('\n').filter((line) => line !== '')
    },
    helmUpgrade: (upgradeValues) =>
      helm(['upgrade', releaseName, chartDir, '--namespace', releaseNamespace, '--reuse-values'], upgradeValues),
    startWebhook,
    startSync,
    dir,
    stop,
  }
}

async function createBaseRoles(iam: IAMClient, roles: E2eOptions['baseRoles']): Promise<void> {
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
  })
  for (const [roleName, policies] of Object.entries(roles)) {
    await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust }))
    for (const [policyName, document] of Object.entries(policies)) {
      await iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(document) }))
    }
  }
}

function serviceAccountKubeconfig(plane: ControlPlane, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: plane.server, 'certificate-authority-data': Buffer.from(plane.caPem).toString('base64') } }],
    users: [{ name: syncServiceAccount, user: { token } }],
    contexts: [{ name: 'sync', context: { cluster: 'e2e', user: syncServiceAccount } }],
    'current-context': 'sync',
  })
}

const oneDay = 24 * 60 * 60 * 1000

/** A CA (its PEM goes into the chart's caBundle) and a serving certificate for 127.0.0.1 it signed. */
async function webhookCertificates(): Promise<{ caPem: string; cert: string; key: string }> {
  const common = { keyType: 'ec', algorithm: 'sha256', notBeforeDate: new Date(Date.now() - 60_000), notAfterDate: new Date(Date.now() + oneDay) } as const
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'session-guard e2e webhook CA' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  })
  const serving = await selfsigned.generate([{ name: 'commonName', value: 'session-guard-webhook' }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  })
  return { caPem: ca.cert, cert: serving.cert, key: serving.private }
}

// --- processes ------------------------------------------------------------------------------

const children = new Set<ChildProcess>()
let exitHook = false

/** `node dist/cli.js ARGS`, its JSON log lines collected; killed with the test process whatever happens. */
function spawnCli(name: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  const command = [process.execPath, CLI, ...args]
  const child = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command[0] as string, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  if (!exitHook) {
    exitHook = true
    process.on('exit', () => {
      for (const running of children) running.kill('SIGKILL')
    })
  }
  const logs: Record<string, unknown>[] = []
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buffered = ''
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        if (line.trim() === '') continue
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>)
        } catch {
          logs.push({ text: line })
        }
      }
    })
  }
  collect(child.stdout)
  collect(child.stderr)
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child)
      resolve(code ?? signal ?? -1)
    }),
  )
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    name,
    logs,
    exited,
    running,
    kill: (signal) => {
      if (running()) child.kill(signal)
    },
    stop: async () => {
      if (!running()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}

function once(action: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined
  return () => (result ??= action())
}
