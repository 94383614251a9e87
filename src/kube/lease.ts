/**
 * Leader election on a `coordination.k8s.io/v1` Lease. Every write carries the resourceVersion that
 * was read, so two candidates never both believe they won: the loser gets 409 Conflict. A standby
 * judges expiry by its own clock — the time it last saw the lease record change — so clock skew between
 * nodes cannot make it take over early. The leader steps down before a standby may take over: it stops
 * leading when it has not renewed for `durationSeconds - renewSeconds`.
 */
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node'
import type { KubeConfig, V1Lease } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { describeError, httpStatus } from './errors.js'

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig
  name: string
  namespace: string
  /** This candidate's identity, written as `holderIdentity` (the pod name, usually). */
  identity: string
  durationSeconds: number
  renewSeconds: number
  logger: Logger
  onChange?: (leading: boolean) => void
  /** The clock, in milliseconds (tests). */
  now?: () => number
}

interface Observation {
  /** The holder and renewTime seen last; a change of either restarts the expiry clock. */
  record: string
  atMs: number
}

export class LeaderElector {
  private readonly options: LeaderElectorOptions
  private readonly api: CoordinationV1Api
  private readonly now: () => number
  private leading = false
  private lastRenewMs = 0
  private observed: Observation | undefined
  private timer: NodeJS.Timeout | undefined
  private running = false
  private step: Promise<void> = Promise.resolve()

  constructor(options: LeaderElectorOptions) {
    this.options = options
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api)
    this.now = options.now ?? Date.now
  }

  isLeader(): boolean {
    if (this.leading && this.now() - this.lastRenewMs > this.renewDeadlineMs()) this.setLeading(false)
    return this.leading
  }

  /** Tries at once, then every `renewSeconds` (with jitter while standing by). */
  start(): void {
    if (this.running) return
    this.running = true
    const tick = (): void => {
      this.step = this.tryAcquireOrRenew().then(
        () => undefined,
        () => undefined,
      )
      void this.step.then(() => {
        if (!this.running) return
        const jitter = this.leading ? 0 : Math.random() * 0.2
        this.timer = setTimeout(tick, this.options.renewSeconds * 1000 * (1 + jitter))
      })
    }
    tick()
  }

  /** Stops trying and, when leading, releases the lease so a standby takes over without waiting. */
  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    await this.step
    if (this.leading) await this.release()
    this.setLeading(false)
  }

  /** One round: create, renew, or take over an expired lease. Resolves to whether this candidate leads. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.options
    try {
      const lease = await this.read()
      if (!lease) return this.won(await this.api.createNamespacedLease({ namespace, body: this.freshLease(0) }))
      const spec = lease.spec ?? {}
      const holder = spec.holderIdentity ?? ''
      this.observe(holder, spec.renewTime)
      if (holder === identity) {
        spec.renewTime = new V1MicroTime(this.now())
        spec.leaseDurationSeconds = this.options.durationSeconds
        return this.won(await this.api.replaceNamespacedLease({ name, namespace, body: lease }))
      }
      if (holder !== '' && !this.expired(spec.leaseDurationSeconds)) return this.lost()
      const body: V1Lease = { ...lease, spec: this.freshLease((spec.leaseTransitions ?? 0) + 1).spec }
      const taken = this.won(await this.api.replaceNamespacedLease({ name, namespace, body }))
      this.options.logger.info({ namespace, name, previousHolder: holder || null }, 'acquired the sync lease')
      return taken
    } catch (error) {
      const status = httpStatus(error)
      if (status === 409 || status === 404) return this.lost()
      this.options.logger.warn({ namespace, name, error: describeError(error) }, 'lease round failed')
      return this.isLeader()
    }
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace })
    } catch (error) {
      if (httpStatus(error) === 404) return undefined
      throw error
    }
  }

  private freshLease(transitions: number): V1Lease {
    const nowTime = new V1MicroTime(this.now())
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.options.durationSeconds,
        acquireTime: nowTime,
        renewTime: nowTime,
        leaseTransitions: transitions,
      },
    }
  }

  private async release(): Promise<void> {
    const { name, namespace, identity } = this.options
    try {
      const lease = await this.read()
      if (!lease?.spec || lease.spec.holderIdentity !== identity) return
      lease.spec.holderIdentity = ''
      lease.spec.leaseDurationSeconds = 1
      lease.spec.renewTime = new V1MicroTime(this.now())
      await this.api.replaceNamespacedLease({ name, namespace, body: lease })
      this.options.logger.info({ namespace, name }, 'released the sync lease')
    } catch (error) {
      this.options.logger.warn({ namespace, name, error: describeError(error) }, 'could not release the sync lease')
    }
  }

  private observe(holder: string, renewTime: unknown): void {
    const record = `${holder}@${renewTime instanceof Date ? renewTime.toISOString() : String(renewTime)}`
    if (this.observed?.record !== record) this.observed = { record, atMs: this.now() }
  }

  private expired(leaseDurationSeconds: number | undefined): boolean {
    const duration = (leaseDurationSeconds ?? this.options.durationSeconds) * 1000
    return this.observed !== undefined && this.now() - this.observed.atMs >= duration
  }

  private won(lease: V1Lease): boolean {
    this.lastRenewMs = this.now()
    this.observe(lease.spec?.holderIdentity ?? '', lease.spec?.renewTime)
    this.setLeading(true)
    return true
  }

  private lost(): boolean {
    this.setLeading(false)
    return false
  }

  private renewDeadlineMs(): number {
    const { durationSeconds, renewSeconds } = this.options
    return Math.max(durationSeconds - renewSeconds, renewSeconds) * 1000
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return
    this.leading = leading
    this.options.logger.info(
      { namespace: this.options.namespace, name: this.options.name, identity: this.options.identity, leading },
      leading ? 'leading' : 'standing by',
    )
    this.options.onChange?.(leading)
  }
}
