/**
 * The engine wired from the config, and `syncOnce`: one full pass without a watch, a lease or a port
 * (the benchmark, a one-shot job, tests).
 */
import type { EKSClient } from '@aws-sdk/client-eks'
import type { KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import { createEksClient, EksAssociations } from '../aws/eks-associations.js'
import { listServiceAccounts } from '../kube/service-accounts.js'
import type { KeyBackoff } from './backoff.js'
import { SyncEngine } from './engine.js'
import type { Judge, PassReport } from './engine.js'
import { createSyncMetrics } from './metrics.js'
import type { SyncMetrics } from './metrics.js'
import type { StatusSink, SyncTarget } from './status.js'

export interface SyncEngineSettings {
  config: Config
  judge: Judge
  /** Defaults to a client for `config.region` and `config.sync.eksEndpoint` with adaptive retry. */
  eksClient?: EKSClient
  logger?: Logger
  metrics?: SyncMetrics
  status?: StatusSink
  restartWorkloads?: (namespace: string, serviceAccount: string) => Promise<string[]>
  canWrite?: () => boolean
  describeMaxAgeMs?: number
  backoff?: KeyBackoff
}

export function createSyncEngine(settings: SyncEngineSettings): SyncEngine {
  const { config } = settings
  const metrics = settings.metrics ?? createSyncMetrics()
  const client =
    settings.eksClient ??
    createEksClient({ region: config.region, ...(config.sync.eksEndpoint ? { endpoint: config.sync.eksEndpoint } : {}) })
  return new SyncEngine({
    eks: new EksAssociations({
      client,
      clusterName: config.clusterName,
      observe: (operation, outcome) => metrics.eksCalls.inc({ operation, outcome }),
    }),
    judge: settings.judge,
    ownership: {
      annotationPrefix: config.annotationPrefix,
      installationId: config.sync.installationId,
      clusterName: config.clusterName,
      adoptExisting: config.sync.adoptExisting,
    },
    namespaces: config.sync.namespaces,
    concurrency: config.sync.concurrency,
    metrics,
    logger: settings.logger ?? pino({ name: 'session-guard-sync' }),
    ...(settings.status ? { status: settings.status } : {}),
    ...(settings.restartWorkloads ? { restartWorkloads: settings.restartWorkloads } : {}),
    ...(settings.canWrite ? { canWrite: settings.canWrite } : {}),
    ...(settings.describeMaxAgeMs !== undefined ? { describeMaxAgeMs: settings.describeMaxAgeMs } : {}),
    ...(settings.backoff ? { backoff: settings.backoff } : {}),
  })
}

export interface SyncOnceOptions extends SyncEngineSettings {
  /** The ServiceAccounts to sync; read from the cluster through `kubeConfig` when absent. */
  serviceAccounts?: readonly SyncTarget[]
  kubeConfig?: KubeConfig
  /** Reuse an engine (its describe cache) across passes. */
  engine?: SyncEngine
}

/** One full pass: judge every ServiceAccount, read every association, apply the plan. */
export async function syncOnce(options: SyncOnceOptions): Promise<PassReport> {
  const engine = options.engine ?? createSyncEngine(options)
  let serviceAccounts = options.serviceAccounts
  if (!serviceAccounts) {
    if (!options.kubeConfig) throw new Error('syncOnce needs serviceAccounts or a kubeConfig to list them from')
    serviceAccounts = await listServiceAccounts(options.kubeConfig, options.config.sync.namespaces)
  }
  return engine.fullPass(serviceAccounts)
}
