/**
 * What the sync writes back to Kubernetes about a ServiceAccount: the `<prefix>/association-id`
 * annotation (a merge patch touching that key only) and Events on the ServiceAccount.
 */
import { randomBytes } from 'node:crypto'
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import type { CoreV1Event, KubeConfig } from '@kubernetes/client-node'
import { httpStatus } from './errors.js'

export type SyncEventReason = 'Synced' | 'SyncFailed' | 'Conflict' | 'Rejected' | 'RestartRequired' | 'WorkloadsRestarted'

export interface ServiceAccountTarget {
  namespace: string
  name: string
  uid?: string
}

export interface ServiceAccountStatusOptions {
  kubeConfig: KubeConfig
  annotationPrefix: string
  /** `source.component` and `reportingComponent` of the Events. */
  component?: string
  /** `reportingInstance`: this replica. */
  instance: string
}

export class ServiceAccountStatus {
  private readonly core: CoreV1Api
  private readonly options: ServiceAccountStatusOptions

  constructor(options: ServiceAccountStatusOptions) {
    this.options = options
    this.core = options.kubeConfig.makeApiClient(CoreV1Api)
  }

  get annotationKey(): string {
    return `${this.options.annotationPrefix}/association-id`
  }

  /** Sets (or with null removes) the association-id annotation; false when the ServiceAccount is gone. */
  async setAssociationId(target: ServiceAccountTarget, associationId: string | null): Promise<boolean> {
    try {
      await this.core.patchNamespacedServiceAccount(
        {
          name: target.name,
          namespace: target.namespace,
          body: { metadata: { annotations: { [this.annotationKey]: associationId } } },
          fieldManager: this.component(),
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )
      return true
    } catch (error) {
      if (httpStatus(error) === 404) return false
      throw error
    }
  }

  async event(target: ServiceAccountTarget, type: 'Normal' | 'Warning', reason: SyncEventReason, message: string): Promise<void> {
    const now = new Date()
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${target.name}.${randomBytes(8).toString('hex')}`, namespace: target.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        namespace: target.namespace,
        name: target.name,
        ...(target.uid ? { uid: target.uid } : {}),
      },
      type,
      reason,
      message: message.slice(0, 1024),
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component() },
      reportingComponent: this.component(),
      reportingInstance: this.options.instance,
    }
    await this.core.createNamespacedEvent({ namespace: target.namespace, body })
  }

  private component(): string {
    return this.options.component ?? 'session-guard-sync'
  }
}
