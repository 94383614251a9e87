/**
 * The sync sidecar (`session-guard sync`): wires the ServiceAccount watch, the Lease, the engine, the
 * work queue, the periodic full pass and the health port. Every replica watches and is ready; only the
 * Lease holder reconciles. A change to a ServiceAccount's input annotations queues that ServiceAccount;
 * becoming leader, and every `resyncSeconds`, runs a full pass (which also catches deletes missed while
 * another replica led or none did).
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { EKSClient } from '@aws-sdk/client-eks'
import { KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import { createEksClient } from '../aws/eks-associations.js'
import { LeaderElector } from '../kube/lease.js'
import { ServiceAccountStatus } from '../kube/service-account-status.js'
import { ServiceAccountWatcher } from '../kube/service-accounts.js'
import type { ServiceAccountChange, WatchedServiceAccount } from '../kube/service-accounts.js'
import { restartWorkloads } from '../kube/workloads.js'
import { serviceAccountKey } from './association.js'
import { KeyBackoff } from './backoff.js'
import type { Judge, PassReport } from './engine.js'
import { startHealthServer } from './health-server.js'
import { createSyncMetrics } from './metrics.js'
import { createSyncEngine } from './once.js'
import { WorkQueue } from './queue.js'
import { errorText } from './status.js'

export interface RunSyncOptions {
  config: Config
  judge: Judge
  /** Defaults to the in-cluster config (or $KUBECONFIG) through `loadFromDefault()`. */
  kubeConfig?: KubeConfig
  eksClient?: EKSClient
  logger?: Logger
  /** The Lease holder identity; defaults to `<hostname>_<random>` (the pod name in a cluster). */
  identity?: string
}

export interface SyncSidecar {
  /** The port of /healthz, /readyz and /metrics (useful when `sync.port` is 0). */
  port: number
  isLeader(): boolean
  /** Resolves when the ServiceAccount cache is complete (what /readyz reports). */
  ready: Promise<void>
  /** Runs a full pass now if this replica leads (tests, diagnostics); undefined when it does not. */
  fullPass(): Promise<PassReport | undefined>
  /** Stops reconciling, finishes what runs, releases the Lease and closes the port. */
  stop(): Promise<void>
}

export async function runSync(options: RunSyncOptions): Promise<SyncSidecar> {
  const { config, judge } = options
  const logger = options.logger ?? pino({ name: 'session-guard-sync' })
  const kubeConfig = options.kubeConfig ?? defaultKubeConfig()
  const identity = options.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`
  const metrics = createSyncMetrics({ defaultMetrics: true })
  const backoff = new KeyBackoff()
  const annotationKey = `${config.annotationPrefix}/association-id`

  const elector: LeaderElector = new LeaderElector({
    kubeConfig,
    ...config.sync.lease,
    identity,
    logger,
    onChange: (leading) => {
      metrics.leader.set(leading ? 1 : 0)
      if (leading) scheduleFullPass(0)
    },
  })
  // A client made here is destroyed on stop (its keep-alive sockets would hold the process open).
  const eksClient =
    options.eksClient ??
    createEksClient({ region: config.region, ...(config.sync.eksEndpoint ? { endpoint: config.sync.eksEndpoint } : {}) })
  const engine = createSyncEngine({
    config,
    judge,
    eksClient,
    logger,
    metrics,
    backoff,
    status: new ServiceAccountStatus({ kubeConfig, annotationPrefix: config.annotationPrefix, instance: identity }),
    ...(config.sync.restartWorkloads
      ? { restartWorkloads: (namespace: string, name: string) => restartWorkloads(kubeConfig, namespace, name) }
      : {}),
    canWrite: () => elector.isLeader(),
  })

  let watcherSynced = false
  const watcher = new ServiceAccountWatcher({
    kubeConfig,
    namespaces: config.sync.namespaces,
    logger,
    onChange: (change) => {
      if (watcherSynced && inputsChanged(change, annotationKey)) {
        queue.add(serviceAccountKey(change.serviceAccount.namespace, change.serviceAccount.name))
      }
    },
  })

  const queue: WorkQueue = new WorkQueue(
    config.sync.concurrency,
    async (key): Promise<void> => {
      if (!elector.isLeader()) return // the full pass on taking the lease covers it
      const wait = backoff.waitMs(key)
      if (wait > 0) return queue.add(key, wait)
      const [namespace, name] = splitKey(key)
      try {
        const report = await engine.reconcile(namespace, name, copyOf(watcher.get(namespace, name)))
        if (report.failures.length > 0) queue.add(key, backoff.waitMs(key))
      } catch (error) {
        // Listing the ServiceAccount's associations failed: back off this key only.
        const delay = backoff.fail(key)
        logger.warn({ namespace, name, error: errorText(error), retryInMs: delay }, 'reconcile failed')
        queue.add(key, delay)
      }
    },
    (depth) => metrics.queueDepth.set(depth),
  )

  let passTimer: NodeJS.Timeout | undefined
  let passRunning: Promise<PassReport | undefined> | undefined
  let passFailures = 0
  let stopped = false

  const fullPass = async (): Promise<PassReport | undefined> => {
    if (!elector.isLeader() || !watcherSynced) return undefined
    passRunning ??= (async () => {
      try {
        const report = await engine.fullPass(watcher.list().map(copyOf).filter((sa) => sa !== undefined))
        passFailures = 0
        for (const failure of report.failures) {
          const key = serviceAccountKey(failure.namespace, failure.name)
          queue.add(key, backoff.waitMs(key))
        }
        logger.info({ ...report.results, deferred: report.deferred, durationMs: report.durationMs }, 'full pass done')
        return report
      } catch (error) {
        passFailures++
        const retryInMs = Math.min(1000 * 2 ** passFailures, config.sync.resyncSeconds * 1000)
        logger.warn({ error: errorText(error), retryInMs }, 'full pass failed')
        scheduleFullPass(retryInMs)
        return undefined
      } finally {
        passRunning = undefined
      }
    })()
    return passRunning
  }

  function scheduleFullPass(delayMs: number): void {
    if (stopped) return
    clearTimeout(passTimer)
    passTimer = setTimeout(() => {
      scheduleFullPass(config.sync.resyncSeconds * 1000)
      void fullPass()
    }, delayMs)
  }

  const server = await startHealthServer({ port: config.sync.port, registry: metrics.registry, ready: () => watcherSynced })
  const ready = (async () => {
    // Until the first list succeeds (RBAC being applied, the API server starting) keep trying, not ready.
    for (let attempt = 0; !stopped; attempt++) {
      try {
        await watcher.start()
        watcherSynced = true
        logger.info({ serviceAccounts: watcher.list().length }, 'ServiceAccount cache synced')
        scheduleFullPass(0)
        return
      } catch (error) {
        const retryInMs = Math.min(1000 * 2 ** attempt, 30_000)
        logger.error({ error: errorText(error), retryInMs }, 'could not list ServiceAccounts')
        await new Promise((resolve) => setTimeout(resolve, retryInMs).unref())
      }
    }
  })()
  elector.start()

  return {
    port: server.port,
    isLeader: () => elector.isLeader(),
    ready,
    fullPass,
    async stop() {
      stopped = true
      clearTimeout(passTimer)
      await queue.stop()
      await passRunning
      await watcher.stop()
      await elector.stop()
      metrics.leader.set(0)
      await server.close()
      if (!options.eksClient) eksClient.destroy()
    },
  }
}

/** Only a change of what the judgment reads queues a ServiceAccount; our own annotation write does not. */
function inputsChanged(change: ServiceAccountChange, annotationKey: string): boolean {
  if (change.type === 'delete' || !change.previous) return true
  const strip = (annotations: Record<string, string>): string =>
    JSON.stringify(Object.entries(annotations).filter(([key]) => key !== annotationKey).sort(([a], [b]) => (a < b ? -1 : 1)))
  return strip(change.previous.annotations) !== strip(change.serviceAccount.annotations)
}

// The engine updates a target's annotations after writing them; keep the watcher's cache its own.
function copyOf(serviceAccount: WatchedServiceAccount | undefined): WatchedServiceAccount | undefined {
  return serviceAccount ? { ...serviceAccount, annotations: { ...serviceAccount.annotations } } : undefined
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/')
  return [key.slice(0, slash), key.slice(slash + 1)]
}

function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromDefault()
  return kubeConfig
}
