/**
 * The reconcile engine: judged ServiceAccounts in, EKS calls out. A full pass lists every association,
 * plans with the pure planner and settles each ServiceAccount on its own (bounded concurrency, a lock
 * per ServiceAccount, a backoff per ServiceAccount), so one that keeps failing never holds up the rest.
 * Association details are cached by id — from describes and from the answers to our own writes — so a
 * pass over an unchanged cluster costs the list pages and no describes until the cache ages out.
 */
import type { Logger } from 'pino'
import type { DesiredAssociation, Judgment, ServiceAccountRef } from '../admission/judgment.js'
import type { EksAssociations } from '../aws/eks-associations.js'
import { serviceAccountKey } from './association.js'
import type { ActualAssociation, AssociationSummary, ServiceAccountKey } from './association.js'
import { KeyBackoff } from './backoff.js'
import type { ReconcileResult, SyncMetrics } from './metrics.js'
import { classifyOwnership } from './ownership.js'
import type { Ownership } from './ownership.js'
import { planSync } from './plan.js'
import type { AdoptCall, ConflictReport, CreateCall, DeleteCall, PlannedCall, UpdateCall } from './plan.js'
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
  private readonly cache = new Map<string, { association: ActualAssociation; atMs: number }>()
  private readonly lastApplied = new Map<ServiceAccountKey, string>()
  private readonly locks = new Map<ServiceAccountKey, Promise<unknown>>()
  private readonly reporter: StatusReporter
  readonly backoff: KeyBackoff
  private readonly now: () => number

  constructor(options: SyncEngineOptions) {
    this.options = options
    this.now = options.now ?? Date.now
    this.backoff = options.backoff ?? new KeyBackoff({ now: this.now })
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
      this.readActual(),
    ])
    const verdictByKey = new Map([...targets.keys()].map((key, i) => [key, verdicts[i] as Verdict]))
    const work = this.plan(targets, verdictByKey, actual)
    await mapPool(work, this.options.concurrency, async (item) => {
      if (this.backoff.waitMs(item.key) > 0) {
        report.deferred++
        return
      }
      await this.locked(item.key, () => this.settle(item, report))
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
    await this.locked(key, async () => {
      report.serviceAccounts = target ? 1 : 0
      const verdict: Verdict = target ? await this.judge(target) : { kind: 'unguarded' }
      const actual = await this.describeAll(await this.options.eks.list({ namespace, serviceAccount: name }))
      const targets = new Map(target ? [[key, target]] : [])
      const verdicts = new Map<ServiceAccountKey, Verdict>([[key, verdict]])
      const [item] = this.plan(targets, verdicts, actual, [key])
      if (item) await this.settle(item, report)
    })
    return report
  }

  /** Forgets cached details, so the next pass describes every association again. */
  forgetCache(): void {
    this.cache.clear()
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
      this.remember(outcome.association)
      await this.reporter.associationId(item.target, outcome.association.associationId)
      await this.reporter.normal(item.target, 'Synced', `Created EKS Pod Identity association ${outcome.association.associationId} ${describeDesired(call.desired)}.`)
      return 'created'
    }
    // An association appeared meanwhile (or an earlier create of ours did land): plan again against it, once.
    if (replanned) throw new Error(`EKS reports an association for ${item.key} exists but the plan still asks to create one`)
    this.remember(outcome.existing)
    const actual = [outcome.existing]
    const calls = planSync([call.desired], actual, this.options.ownership)
    return this.execute({ ...item, calls, actual }, true)
  }

  private async update(call: UpdateCall, target: SyncTarget | undefined): Promise<void> {
    this.requireLeader()
    const updated = await this.options.eks.update(call.associationId, call.desired, call.changed, call.clientRequestToken)
    this.remember(updated)
    await this.reporter.associationId(target, updated.associationId)
    await this.reporter.normal(target, 'Synced', `Updated EKS Pod Identity association ${updated.associationId} (${call.changed.join(', ')}) ${describeDesired(call.desired)}.`)
    await this.afterUpdate(call.namespace, call.serviceAccount, target)
  }

  private async adopt(call: AdoptCall, target: SyncTarget | undefined): Promise<void> {
    this.requireLeader()
    await this.options.eks.tag(call.associationArn, call.tags)
    const cached = this.cache.get(call.associationId)?.association
    if (cached) this.remember({ ...cached, tags: { ...cached.tags, ...call.tags } })
    if (call.changed.length > 0) {
      this.remember(await this.options.eks.update(call.associationId, call.desired, call.changed, call.clientRequestToken))
    }
    await this.reporter.associationId(target, call.associationId)
    const changed = call.changed.length > 0 ? ` and updated it (${call.changed.join(', ')})` : ''
    await this.reporter.normal(target, 'Synced', `Adopted the existing EKS Pod Identity association ${call.associationId}${changed}; session-guard now manages it.`)
    if (call.changed.length > 0) await this.afterUpdate(call.namespace, call.serviceAccount, target)
  }

  private async delete(call: DeleteCall, target: SyncTarget | undefined): Promise<void> {
    this.requireLeader()
    await this.options.eks.delete(call.associationId)
    this.cache.delete(call.associationId)
    const why = call.reason === 'duplicate' ? 'a duplicate of the association kept for' : 'no longer needed by'
    this.options.logger.info({ namespace: call.namespace, name: call.serviceAccount, associationId: call.associationId }, `deleted association, ${why} this ServiceAccount`)
    if (target && call.reason === 'orphan') {
      await this.reporter.normal(target, 'Synced', `Deleted EKS Pod Identity association ${call.associationId}: the ServiceAccount no longer carries session-guard annotations.`)
    }
  }

  private async afterUpdate(namespace: string, name: string, target: SyncTarget | undefined): Promise<void> {
    if (this.options.restartWorkloads) {
      const restarted = await this.options.restartWorkloads(namespace, name)
      if (restarted.length > 0) {
        await this.reporter.normal(target, 'WorkloadsRestarted', `Restarted ${restarted.join(', ')} so that their pods get credentials under the updated association.`)
        return
      }
    }
    await this.reporter.normal(
      target,
      'RestartRequired',
      'Running pods keep the credentials they already have (the EKS Pod Identity agent caches them for up to 6 hours) until they restart; ' +
        'restart the workloads that use this ServiceAccount (kubectl rollout restart) to apply the change now.',
    )
  }

  private async reportConflict(call: ConflictReport, target: SyncTarget | undefined): Promise<void> {
    const why = {
      addon: `is managed by the EKS add-on ${call.ownerArn ?? ''}; session-guard never changes add-on associations`,
      'other-installation': 'belongs to another session-guard installation',
      unmanaged: 'was not created by session-guard; set sync.adoptExisting: true to let session-guard manage it, or delete it',
    }[call.owner]
    await this.reporter.warning(
      target,
      'Conflict',
      `The EKS Pod Identity association ${call.associationId} for this ServiceAccount ${why}. It is left untouched, so the session-guard annotations are not applied.`,
      call.associationId,
    )
  }

  private async reportRejected(target: SyncTarget | undefined, judgment: Judgment): Promise<void> {
    const findings = judgment.violations.map((v) => `${v.code}: ${v.message}`)
    await this.reporter.warning(
      target,
      'Rejected',
      `The session-guard annotations fail the admission checks, so they are not applied to EKS and any existing association is left as it is. ${findings.join(' ')}`,
      judgment.violations.map((v) => v.code).join(','),
    )
  }

  private async reportFailure(item: KeyWork, error: unknown, report: PassReport): Promise<void> {
    const delayMs = this.backoff.fail(item.key)
    const text = errorText(error)
    report.failures.push({ namespace: item.namespace, name: item.name, error: text })
    this.options.logger.warn({ namespace: item.namespace, name: item.name, error: text, retryInMs: delayMs }, 'sync failed')
    await this.reporter.warning(
      item.target,
      'SyncFailed',
      `Could not sync the EKS Pod Identity association: ${text}. Retrying in ${Math.ceil(delayMs / 1000)} s.`,
      error instanceof Error ? error.name : 'error',
    )
  }

  /** Every association in scope, described (from the cache when fresh). */
  private async readActual(): Promise<ActualAssociation[]> {
    const { namespaces } = this.options
    const lists = namespaces.length > 0
      ? await Promise.all([...new Set(namespaces)].map((namespace) => this.options.eks.list({ namespace })))
      : [await this.options.eks.list()]
    return this.describeAll(lists.flat())
  }

  private async describeAll(summaries: AssociationSummary[]): Promise<ActualAssociation[]> {
    const described = await mapPool(summaries, this.options.concurrency, async (summary) => {
      // Add-on associations are never touched: what the summary says is all the plan needs.
      if (summary.ownerArn) return { ...summary, roleArn: '', disableSessionTags: false, tags: {} }
      const cached = this.cache.get(summary.associationId)
      if (cached && this.now() - cached.atMs < (this.options.describeMaxAgeMs ?? 3_600_000)) return cached.association
      const association = await this.options.eks.describe(summary.associationId)
      if (association) this.remember(association)
      else this.cache.delete(summary.associationId)
      return association
    })
    return described.filter((a): a is ActualAssociation => a !== undefined)
  }

  private remember(association: ActualAssociation): void {
    this.cache.set(association.associationId, { association, atMs: this.now() })
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

  private async locked<T>(key: ServiceAccountKey, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve()
    const run = previous.then(task, task)
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.locks.set(key, settled)
    try {
      return await run
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key)
    }
  }
}

function describeDesired(desired: DesiredAssociation): string {
  const parts = [`for role ${desired.roleArn}`]
  if (desired.targetRoleArn) parts.push(`target role ${desired.targetRoleArn}`)
  parts.push(desired.policy ? `a ${desired.policy.length}-character session policy` : 'no session policy')
  return parts.join(', ')
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
