/**
 * The reconcile engine: judged ServiceAccounts in, EKS calls out. A full pass lists every association,
 * plans with the pure planner and settles each ServiceAccount on its own (bounded concurrency, a lock
 * per ServiceAccount, a backoff per ServiceAccount), so one that keeps failing never holds up the rest.
 */
import type { Logger } from 'pino'
import type { DesiredAssociation, Judgment, ServiceAccountRef } from '../admission/judgment.js'
import type { EksAssociations } from '../aws/eks-associations.js'
import { serviceAccountKey } from './association.js'
import { ActualState } from './actual-state.js'
import type { ActualAssociation, ServiceAccountKey } from './association.js'
import { KeyBackoff } from './backoff.js'
import type { ReconcileResult, SyncMetrics } from './metrics.js'
import { classifyOwnership } from './ownership.js'
import type { Ownership } from './ownership.js'
import { planSync } from './plan.js'
import type { AdoptCall, ConflictReport, CreateCall, DeleteCall, PlannedCall, UpdateCall } from './plan.js'
import {
  adoptedMessage,
  conflictMessage,
  createdMessage,
  deletedMessage,
  failedMessage,
  rejectedMessage,
  restartedMessage,
  restartRequiredMessage,
  updatedMessage,
} from './messages.js'
import { KeyedLock } from './keyed-lock.js'
import { mapPool } from './pool.js'
import { errorText, StatusReporter } from './status.js'
import type { StatusSink, SyncTarget } from './status.js'

export type AssociationStore = Pick<EksAssociations, 'list' | 'describe' | 'create' | 'update' | 'delete' | 'tag'>
export type Judge = (serviceAccount: ServiceAccountRef) => Promise<Judgment>

export interface SyncEngineOptions {
  eks: AssociationStore
  judge: Judge
  ownership: Ownership
  /** Namespaces in scope; empty means all. Associations elsewhere are never touched. */
  namespaces: readonly string[]
  concurrency: number
  metrics: SyncMetrics
  logger: Logger
  status?: StatusSink
  /** With `sync.restartWorkloads`: restarts the workloads using a ServiceAccount after an update. */
  restartWorkloads?: (namespace: string, serviceAccount: string) => Promise<string[]>
  /** Only the Lease holder writes; checked before every write. */
  canWrite?: () => boolean
  /** A cached association older than this is described again (drift detection). */
  describeMaxAgeMs?: number
  backoff?: KeyBackoff
  now?: () => number
}

export interface PassReport {
  serviceAccounts: number
  results: Record<ReconcileResult, number>
  /** Skipped: backing off after earlier failures. */
  deferred: number
  failures: Array<{ namespace: string; name: string; error: string }>
  durationMs: number
}

type Verdict =
  | { kind: 'desired'; desired: DesiredAssociation }
  | { kind: 'rejected'; judgment: Judgment }
  | { kind: 'failed'; error: unknown }
  | { kind: 'unguarded' }

interface KeyWork {
  key: ServiceAccountKey
  namespace: string
  name: string
  target: SyncTarget | undefined
  verdict: Verdict
  calls: PlannedCall[]
  actual: ActualAssociation[]
}

class NotLeaderError extends Error {
  override name = 'NotLeaderError'
}

export class SyncEngine {
  private readonly options: SyncEngineOptions
  private readonly actualState: ActualState
  private readonly lastApplied = new Map<ServiceAccountKey, string>()
  private readonly lock = new KeyedLock()
  private readonly reporter: StatusReporter
  readonly backoff: KeyBackoff
  private readonly now: () => number

  constructor(options: SyncEngineOptions) {
    this.options = options
    this.now = options.now ?? Date.now
    this.backoff = options.backoff ?? new KeyBackoff({ now: this.now })
    this.actualState = new ActualState(options.eks, {
      concurrency: options.concurrency,
      maxAgeMs: options.describeMaxAgeMs ?? 3_600_000,
      now: this.now,
    })
    this.reporter = new StatusReporter(options.status, `${options.ownership.annotationPrefix}/association-id`, options.logger)
  }

  /** Reconciles every ServiceAccount given and every association in scope. */
  async fullPass(serviceAccounts: readonly SyncTarget[]): Promise<PassReport> {
    const started = this.now()
    const report = emptyReport()
    const targets = new Map<ServiceAccountKey, SyncTarget>()
    for (const target of serviceAccounts) {
      if (this.inScope(target.namespace)) targets.set(serviceAccountKey(target.namespace, target.name), target)
    }
    report.serviceAccounts = targets.size
    const [verdicts, actual] = await Promise.all([
      mapPool([...targets.values()], this.options.concurrency, (target) => this.judge(target)),
      this.actualState.read(this.options.namespaces),
    ])
    const verdictByKey = new Map([...targets.keys()].map((key, i) => [key, verdicts[i] as Verdict]))
    const work = this.plan(targets, verdictByKey, actual)
    await mapPool(work, this.options.concurrency, async (item) => {
      if (this.backoff.waitMs(item.key) > 0) {
        report.deferred++
        return
      }
      await this.lock.run(item.key, () => this.settle(item, report))
    })
    report.durationMs = this.now() - started
    this.options.metrics.passSeconds.observe(report.durationMs / 1000)
    return report
  }

  /** Reconciles one ServiceAccount (`target` undefined: it was deleted). */
  async reconcile(namespace: string, name: string, target: SyncTarget | undefined): Promise<PassReport> {
    const report = emptyReport()
    if (!this.inScope(namespace)) return report
    const key = serviceAccountKey(namespace, name)
    await this.lock.run(key, async () => {
      report.serviceAccounts = target ? 1 : 0
      const verdict: Verdict = target ? await this.judge(target) : { kind: 'unguarded' }
      const actual = await this.actualState.readOne(namespace, name)
      const targets = new Map(target ? [[key, target]] : [])
      const verdicts = new Map<ServiceAccountKey, Verdict>([[key, verdict]])
      const [item] = this.plan(targets, verdicts, actual, [key])
      if (item) await this.settle(item, report)
    })
    return report
  }

  /** Forgets cached details, so the next pass describes every association again. */
  forgetCache(): void {
    this.actualState.forget()
  }

  private async judge(target: SyncTarget): Promise<Verdict> {
    try {
      const judgment = await this.options.judge(target)
      if (!judgment.guarded) return { kind: 'unguarded' }
      if (judgment.association) return { kind: 'desired', desired: judgment.association }
      return { kind: 'rejected', judgment }
    } catch (error) {
      return { kind: 'failed', error }
    }
  }

  private plan(
    targets: Map<ServiceAccountKey, SyncTarget>,
    verdicts: Map<ServiceAccountKey, Verdict>,
    actual: ActualAssociation[],
    keys: ServiceAccountKey[] = [],
  ): KeyWork[] {
    const desired: DesiredAssociation[] = []
    const held: ServiceAccountKey[] = []
    for (const [key, verdict] of verdicts) {
      if (verdict.kind === 'desired') desired.push(verdict.desired)
      else if (verdict.kind === 'rejected' || verdict.kind === 'failed') held.push(key)
    }
    const work = new Map<ServiceAccountKey, KeyWork>()
    const entry = (key: ServiceAccountKey, namespace: string, name: string): KeyWork => {
      let item = work.get(key)
      if (!item) {
        item = { key, namespace, name, target: targets.get(key), verdict: verdicts.get(key) ?? { kind: 'unguarded' }, calls: [], actual: [] }
        work.set(key, item)
      }
      return item
    }
    for (const [key, target] of targets) entry(key, target.namespace, target.name)
    for (const key of keys) entry(key, ...splitKey(key))
    for (const association of actual) {
      entry(serviceAccountKey(association.namespace, association.serviceAccount), association.namespace, association.serviceAccount).actual.push(association)
    }
    for (const call of planSync(desired, actual, this.options.ownership, held)) {
      entry(serviceAccountKey(call.namespace, call.serviceAccount), call.namespace, call.serviceAccount).calls.push(call)
    }
    return [...work.values()]
  }

  private async settle(item: KeyWork, report: PassReport): Promise<void> {
    const { verdict, target } = item
    let result: ReconcileResult | undefined
    try {
      if (verdict.kind === 'failed') throw verdict.error
      if (verdict.kind === 'rejected') {
        result = 'rejected'
        await this.reportRejected(target, verdict.judgment)
      } else {
        result = await this.execute(item)
      }
      this.backoff.succeed(item.key)
    } catch (error) {
      if (error instanceof NotLeaderError) return
      result = 'failed'
      await this.reportFailure(item, error, report)
    }
    if (result) {
      report.results[result]++
      this.options.metrics.reconciles.inc({ result })
    }
  }

  /** Runs the key's calls in order; returns the reconcile result, or undefined when there was nothing to do. */
  private async execute(item: KeyWork, replanned = false): Promise<ReconcileResult | undefined> {
    const { target } = item
    const desired = item.verdict.kind === 'desired' ? item.verdict.desired : undefined
    const fingerprint = desired ? JSON.stringify(desired) : undefined
    const writes = item.calls.filter((c) => c.kind !== 'conflict')
    if (fingerprint && writes.length > 0 && this.lastApplied.get(item.key) === fingerprint && !replanned) {
      this.options.metrics.driftCorrected.inc()
    }
    let result: ReconcileResult | undefined
    for (const call of item.calls) {
      switch (call.kind) {
        case 'delete':
          await this.delete(call, target)
          result ??= 'deleted'
          break
        case 'create': {
          const created = await this.create(call, item, replanned)
          if (created !== 'created') return created
          result = 'created'
          break
        }
        case 'update':
          await this.update(call, target)
          result = 'updated'
          break
        case 'adopt':
          await this.adopt(call, target)
          result = 'adopted'
          break
        case 'conflict':
          await this.reportConflict(call, target)
          return 'conflict'
      }
    }
    if (!desired) {
      this.lastApplied.delete(item.key)
      if (target?.annotations[this.annotationKey()] !== undefined) {
        this.requireLeader()
        await this.reporter.associationId(target, null)
      }
      return result
    }
    this.lastApplied.set(item.key, fingerprint as string)
    if (!result) {
      const kept = item.actual.find((a) => classifyOwnership(a, this.options.ownership) === 'owned')
      if (kept && target && target.annotations[this.annotationKey()] !== kept.associationId) {
        this.requireLeader()
        await this.reporter.associationId(target, kept.associationId)
      }
      this.reporter.clear(target)
      return 'unchanged'
    }
    return result
  }

  private async create(call: CreateCall, item: KeyWork, replanned: boolean): Promise<ReconcileResult | undefined> {
    this.requireLeader()
    const outcome = await this.options.eks.create(call.desired, call.tags, call.clientRequestToken)
    if (outcome.created) {
      this.actualState.remember(outcome.association)
      await this.reporter.associationId(item.target, outcome.association.associationId)
      await this.reporter.normal(item.target, 'Synced', createdMessage(outcome.association.associationId, call.desired))
      return 'created'
    }
    // An association appeared meanwhile (or an earlier create of ours did land): plan again against it, once.
    if (replanned) throw new Error(`EKS reports an association for ${item.key} exists but the plan still asks to create one`)
    this.actualState.remember(outcome.existing)
    const actual = [outcome.existing]
    const calls = planSync([call.desired], actual, this.options.ownership)
    return this.execute({ ...item, calls, actual }, true)
  }

  private async update(call: UpdateCall, target: SyncTarget | undefined): Promise<void> {
    this.requireLeader()
    const updated = await this.options.eks.update(call.associationId, call.desired, call.changed, call.clientRequestToken)
    this.actualState.remember(updated)
    await this.reporter.associationId(target, updated.associationId)
    await this.reporter.normal(target, 'Synced', updatedMessage(updated.associationId, call.changed, call.desired))
    await this.afterUpdate(call.namespace, call.serviceAccount, target)
  }

  private async adopt(call: AdoptCall, target: SyncTarget | undefined): Promise<void> {
    this.requireLeader()
    await this.options.eks.tag(call.associationArn, call.tags)
    const cached = this.actualState.get(call.associationId)
    if (cached) this.actualState.remember({ ...cached, tags: { ...cached.tags, ...call.tags } })
    if (call.changed.length > 0) {
      this.actualState.remember(await this.options.eks.update(call.associationId, call.desired, call.changed, call.clientRequestToken))
    }
    await this.reporter.associationId(target, call.associationId)
    await this.reporter.normal(target, 'Synced', adoptedMessage(call.associationId, call.changed))
    if (call.changed.length > 0) await this.afterUpdate(call.namespace, call.serviceAccount, target)
  }

  private async delete(call: DeleteCall, target: SyncTarget | undefined): Promise<void> {
    this.requireLeader()
    await this.options.eks.delete(call.associationId)
    this.actualState.forget(call.associationId)
    const why = call.reason === 'duplicate' ? 'a duplicate of the association kept for' : 'no longer needed by'
    this.options.logger.info({ namespace: call.namespace, name: call.serviceAccount, associationId: call.associationId }, `deleted association, ${why} this ServiceAccount`)
    if (target && call.reason === 'orphan') {
      await this.reporter.normal(target, 'Synced', deletedMessage(call.associationId))
    }
  }

  /** Running pods keep cached credentials: restart their workloads (when configured) or say they must be. */
  private async afterUpdate(namespace: string, name: string, target: SyncTarget | undefined): Promise<void> {
    if (this.options.restartWorkloads) {
      try {
        const restarted = await this.options.restartWorkloads(namespace, name)
        if (restarted.length > 0) return await this.reporter.normal(target, 'WorkloadsRestarted', restartedMessage(restarted))
      } catch (error) {
        // The association is updated; a failed restart must not make it look unsynced and retried forever.
        this.options.logger.warn({ namespace, name, error: errorText(error) }, 'could not restart workloads')
      }
    }
    await this.reporter.normal(target, 'RestartRequired', restartRequiredMessage)
  }

  private async reportConflict(call: ConflictReport, target: SyncTarget | undefined): Promise<void> {
    await this.reporter.warning(target, 'Conflict', conflictMessage(call), call.associationId)
  }

  private async reportRejected(target: SyncTarget | undefined, judgment: Judgment): Promise<void> {
    const codes = judgment.violations.map((v) => v.code).join(',')
    await this.reporter.warning(target, 'Rejected', rejectedMessage(judgment), codes)
  }

  private async reportFailure(item: KeyWork, error: unknown, report: PassReport): Promise<void> {
    const delayMs = this.backoff.fail(item.key)
    const text = errorText(error)
    report.failures.push({ namespace: item.namespace, name: item.name, error: text })
    this.options.logger.warn({ namespace: item.namespace, name: item.name, error: text, retryInMs: delayMs }, 'sync failed')
    const signature = error instanceof Error ? error.name : 'error'
    await this.reporter.warning(item.target, 'SyncFailed', failedMessage(text, delayMs), signature)
  }

  private requireLeader(): void {
    if (this.options.canWrite && !this.options.canWrite()) throw new NotLeaderError('this replica does not hold the sync lease')
  }

  private inScope(namespace: string): boolean {
    return this.options.namespaces.length === 0 || this.options.namespaces.includes(namespace)
  }

  private annotationKey(): string {
    return `${this.options.ownership.annotationPrefix}/association-id`
  }
}

function splitKey(key: ServiceAccountKey): [string, string] {
  const slash = key.indexOf('/')
  return [key.slice(0, slash), key.slice(slash + 1)]
}

function emptyReport(): PassReport {
  return {
    serviceAccounts: 0,
    results: { created: 0, updated: 0, adopted: 0, deleted: 0, unchanged: 0, conflict: 0, rejected: 0, failed: 0 },
    deferred: 0,
    failures: [],
    durationMs: 0,
  }
}
