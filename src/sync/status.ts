/**
 * How the sync reports back on a ServiceAccount: the association-id annotation and Events. The sink is
 * the Kubernetes adapter in the sidecar (src/kube/service-account-status.ts) and absent in a bare
 * `syncOnce` (the benchmark). The reporter keeps warnings from repeating on every pass.
 */
import type { Logger } from 'pino'
import type { ServiceAccountRef } from '../admission/judgment.js'
import { describeError, httpStatus } from '../kube/errors.js'
import type { SyncEventReason } from '../kube/service-account-status.js'

export interface SyncTarget extends ServiceAccountRef {
  uid?: string
}

export interface StatusSink {
  /** Sets (null: removes) the association-id annotation. */
  setAssociationId(target: SyncTarget, associationId: string | null): Promise<unknown>
  event(target: SyncTarget, type: 'Normal' | 'Warning', reason: SyncEventReason, message: string): Promise<void>
}

export class StatusReporter {
  private readonly lastWarning = new Map<string, string>()

  constructor(
    private readonly sink: StatusSink | undefined,
    private readonly annotationKey: string,
    private readonly logger: Logger,
  ) {}

  /** Writes the annotation when it differs; a failure is logged, and the next pass tries again. */
  async associationId(target: SyncTarget | undefined, associationId: string | null): Promise<void> {
    if (!this.sink || !target) return
    if ((target.annotations[this.annotationKey] ?? null) === associationId) return
    try {
      await this.sink.setAssociationId(target, associationId)
      target.annotations = withAnnotation(target.annotations, this.annotationKey, associationId)
    } catch (error) {
      this.logger.warn(
        { namespace: target.namespace, name: target.name, error: errorText(error) },
        'could not write the association-id annotation',
      )
    }
  }

  async normal(target: SyncTarget | undefined, reason: SyncEventReason, message: string): Promise<void> {
    if (target) this.lastWarning.delete(keyOf(target))
    await this.emit(target, 'Normal', reason, message)
  }

  /** A warning is emitted once per distinct `signature`, not again on every pass while it persists. */
  async warning(target: SyncTarget | undefined, reason: SyncEventReason, message: string, signature: string): Promise<void> {
    if (!target) return
    const key = keyOf(target)
    if (this.lastWarning.get(key) === `${reason}:${signature}`) return
    this.lastWarning.set(key, `${reason}:${signature}`)
    await this.emit(target, 'Warning', reason, message)
  }

  /** The condition behind the last warning is gone. */
  clear(target: SyncTarget | undefined): void {
    if (target) this.lastWarning.delete(keyOf(target))
  }

  private async emit(
    target: SyncTarget | undefined,
    type: 'Normal' | 'Warning',
    reason: SyncEventReason,
    message: string,
  ): Promise<void> {
    if (!target) return
    this.logger[type === 'Warning' ? 'warn' : 'info']({ namespace: target.namespace, name: target.name, reason }, message)
    if (!this.sink) return
    try {
      await this.sink.event(target, type, reason, message)
    } catch (error) {
      this.logger.warn({ namespace: target.namespace, name: target.name, reason, error: errorText(error) }, 'could not record an Event')
    }
  }
}

function withAnnotation(annotations: Record<string, string>, key: string, value: string | null): Record<string, string> {
  const next = { ...annotations }
  if (value === null) delete next[key]
  else next[key] = value
  return next
}

function keyOf(target: SyncTarget): string {
  return `${target.namespace}/${target.name}`
}

export function errorText(error: unknown): string {
  // Kubernetes API errors carry the request headers in their message; keep the status and reason only.
  if (httpStatus(error) !== undefined && typeof error === 'object' && error !== null && 'body' in error) return describeError(error)
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message
  return String(error)
}
