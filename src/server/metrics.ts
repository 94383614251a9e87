import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { BaseRoleCacheHooks } from '../aws/base-role-cache.js'
import type { ReviewOutcome } from '../admission/types.js'

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT'])

/** The webhook's Prometheus metrics, in a registry of their own. */
export class WebhookMetrics {
  readonly registry = new Registry()
  private readonly requests = new Counter({
    name: 'session_guard_admission_requests_total',
    help: 'Admission reviews by endpoint, operation, decision and violation code ("none" when admitted cleanly).',
    labelNames: ['endpoint', 'operation', 'decision', 'code'] as const,
    registers: [this.registry],
  })
  private readonly duration = new Histogram({
    name: 'session_guard_admission_review_duration_seconds',
    help: 'Time to answer an admission review, by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    registers: [this.registry],
  })
  private readonly baseRoleCache = new Counter({
    name: 'session_guard_base_role_cache_total',
    help: 'Base-role cache lookups by result (hit, miss).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  })
  private readonly iamErrors = new Counter({
    name: 'session_guard_iam_errors_total',
    help: 'Failed IAM lookups of base roles, by whether a stale copy answered instead.',
    labelNames: ['served_stale'] as const,
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'session_guard_' })
  }

  observe(endpoint: 'mutate' | 'validate', requestOperation: string, outcome: ReviewOutcome, seconds: number): void {
    // The operation comes from the request body: an unknown one must not mint a new series each time.
    const operation = OPERATIONS.has(requestOperation) ? requestOperation : 'OTHER'
    this.duration.observe({ endpoint }, seconds)
    if (outcome.codes.length === 0) this.requests.inc({ endpoint, operation, decision: outcome.decision, code: 'none' })
    for (const code of outcome.codes) this.requests.inc({ endpoint, operation, decision: outcome.decision, code })
  }

  cacheHooks(): BaseRoleCacheHooks {
    return {
      onHit: () => this.baseRoleCache.inc({ result: 'hit' }),
      onMiss: () => this.baseRoleCache.inc({ result: 'miss' }),
      onError: (_role, _error, servedStale) => this.iamErrors.inc({ served_stale: String(servedStale) }),
    }
  }
}
