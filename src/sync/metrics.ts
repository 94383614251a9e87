/**
 * The sync sidecar's Prometheus metrics, in a Registry of their own so they never clash with the
 * webhook's (both may run in one process in tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type ReconcileResult =
  | 'created'
  | 'updated'
  | 'adopted'
  | 'deleted'
  | 'unchanged'
  | 'conflict'
  | 'rejected'
  | 'failed'

export interface SyncMetrics {
  registry: Registry
  reconciles: Counter<'result'>
  eksCalls: Counter<'operation' | 'outcome'>
  driftCorrected: Counter
  leader: Gauge
  queueDepth: Gauge
  passSeconds: Histogram
}

export function createSyncMetrics(options: { defaultMetrics?: boolean } = {}): SyncMetrics {
  const registry = new Registry()
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'session_guard_sync_' })
  return {
    registry,
    reconciles: new Counter({
      name: 'session_guard_sync_reconciles_total',
      help: 'ServiceAccount reconciles, by result.',
      labelNames: ['result'],
      registers: [registry],
    }),
    eksCalls: new Counter({
      name: 'session_guard_sync_eks_calls_total',
      help: 'EKS API calls (after SDK retries), by operation and outcome (success or the error name).',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    driftCorrected: new Counter({
      name: 'session_guard_sync_drift_corrected_total',
      help: 'Associations rewritten because they had changed in EKS while the ServiceAccount had not.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'session_guard_sync_leader',
      help: '1 while this replica holds the sync Lease, else 0.',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'session_guard_sync_queue_depth',
      help: 'ServiceAccounts waiting to be reconciled (including those backing off).',
      registers: [registry],
    }),
    passSeconds: new Histogram({
      name: 'session_guard_sync_full_pass_seconds',
      help: 'Duration of full reconcile passes.',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
  }
}
