/**
 * A thin adapter over `@aws-sdk/client-eks` for the Pod Identity association calls the sync sidecar
 * makes. It speaks the sync's types (ActualAssociation, AssociationSummary) and hides the SDK's shapes.
 */
import {
  CreatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  ListPodIdentityAssociationsCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  TagResourceCommand,
  UpdatePodIdentityAssociationCommand,
} from '@aws-sdk/client-eks'
import type { PodIdentityAssociation, PodIdentityAssociationSummary } from '@aws-sdk/client-eks'
import type { DesiredAssociation } from '../admission/judgment.js'
import type { ActualAssociation, AssociationField, AssociationSummary } from '../sync/association.js'

export type EksOperation = 'list' | 'describe' | 'create' | 'update' | 'delete' | 'tag'

/** Called once per logical call (after the SDK's own retries) with `success` or the error's name. */
export type EksCallObserver = (operation: EksOperation, outcome: string) => void

export interface EksClientSettings {
  region: string
  /** `sync.eksEndpoint`: the emulator in tests, a VPC endpoint in production. */
  endpoint?: string
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  maxAttempts?: number
}

/** An EKS client with adaptive retry (client-side rate limiting on throttling) and bounded timeouts. */
export function createEksClient(settings: EksClientSettings): EKSClient {
  return new EKSClient({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    retryMode: 'adaptive',
    maxAttempts: settings.maxAttempts ?? 6,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
  })
}

export type CreateOutcome =
  | { created: true; association: ActualAssociation }
  /** ResourceInUseException: an association for that ServiceAccount exists; here it is, as read. */
  | { created: false; existing: ActualAssociation }

export interface EksAssociationsOptions {
  client: EKSClient
  clusterName: string
  /** ListPodIdentityAssociations page size, 1–100. */
  pageSize?: number
  observe?: EksCallObserver
}

export class EksAssociations {
  private readonly client: EKSClient
  private readonly clusterName: string
  private readonly pageSize: number
  private readonly observe: EksCallObserver

  constructor(options: EksAssociationsOptions) {
    this.client = options.client
    this.clusterName = options.clusterName
    this.pageSize = options.pageSize ?? 100
    this.observe = options.observe ?? (() => {})
  }

  /** Every association of the cluster (every page), optionally for one namespace or ServiceAccount. */
  async list(filter: { namespace?: string; serviceAccount?: string } = {}): Promise<AssociationSummary[]> {
    const summaries: AssociationSummary[] = []
    let nextToken: string | undefined
    do {
      const page = await this.call('list', () =>
        this.client.send(
          new ListPodIdentityAssociationsCommand({
            clusterName: this.clusterName,
            maxResults: this.pageSize,
            ...filter,
            ...(nextToken ? { nextToken } : {}),
          }),
        ),
      )
      for (const summary of page.associations ?? []) summaries.push(fromSummary(summary))
      nextToken = page.nextToken
    } while (nextToken)
    return summaries
  }

  /** The association, or undefined when it does not exist (any more). */
  async describe(associationId: string): Promise<ActualAssociation | undefined> {
    try {
      const output = await this.call('describe', () =>
        this.client.send(new DescribePodIdentityAssociationCommand({ clusterName: this.clusterName, associationId })),
      )
      return fromAssociation(output.association)
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined
      throw error
    }
  }

  async create(
    desired: DesiredAssociation,
    tags: Record<string, string>,
    clientRequestToken: string,
  ): Promise<CreateOutcome> {
    try {
      const output = await this.call('create', () =>
        this.client.send(
          new CreatePodIdentityAssociationCommand({
            clusterName: this.clusterName,
            namespace: desired.namespace,
            serviceAccount: desired.serviceAccount,
            roleArn: desired.roleArn,
            disableSessionTags: desired.disableSessionTags,
            ...(desired.targetRoleArn ? { targetRoleArn: desired.targetRoleArn } : {}),
            ...(desired.policy ? { policy: desired.policy } : {}),
            tags,
            clientRequestToken,
          }),
        ),
      )
      return { created: true, association: fromAssociation(output.association) }
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error
      return { created: false, existing: await this.readExisting(desired, error.message) }
    }
  }

  /** Writes every field of `desired`; a field changed to absent is cleared with an empty string. */
  async update(
    associationId: string,
    desired: DesiredAssociation,
    changed: readonly AssociationField[],
    clientRequestToken: string,
  ): Promise<ActualAssociation> {
    const clear = (field: AssociationField): { [key: string]: string } => (changed.includes(field) ? { [field]: '' } : {})
    const output = await this.call('update', () =>
      this.client.send(
        new UpdatePodIdentityAssociationCommand({
          clusterName: this.clusterName,
          associationId,
          roleArn: desired.roleArn,
          disableSessionTags: desired.disableSessionTags,
          ...(desired.targetRoleArn ? { targetRoleArn: desired.targetRoleArn } : clear('targetRoleArn')),
          ...(desired.policy ? { policy: desired.policy } : clear('policy')),
          clientRequestToken,
        }),
      ),
    )
    return fromAssociation(output.association)
  }

  /** `absent` when it was already gone: a delete retried after a lost response is a success. */
  async delete(associationId: string): Promise<'deleted' | 'absent'> {
    try {
      await this.call('delete', () =>
        this.client.send(new DeletePodIdentityAssociationCommand({ clusterName: this.clusterName, associationId })),
      )
      return 'deleted'
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return 'absent'
      throw error
    }
  }

  async tag(associationArn: string, tags: Record<string, string>): Promise<void> {
    await this.call('tag', () => this.client.send(new TagResourceCommand({ resourceArn: associationArn, tags })))
  }

  // EKS names the existing association in the message; the list is the fallback if it ever does not.
  private async readExisting(desired: DesiredAssociation, message: string): Promise<ActualAssociation> {
    const named = /\ba-[a-z0-9]{17}\b/.exec(message)?.[0]
    const fromMessage = named ? await this.describe(named) : undefined
    if (fromMessage) return fromMessage
    const [summary] = await this.list({ namespace: desired.namespace, serviceAccount: desired.serviceAccount })
    const listed = summary ? await this.describe(summary.associationId) : undefined
    if (listed) return listed
    throw new Error(
      `EKS reports an association for ${desired.namespace}/${desired.serviceAccount} exists, but it cannot be read: ${message}`,
    )
  }

  private async call<T>(operation: EksOperation, send: () => Promise<T>): Promise<T> {
    try {
      const result = await send()
      this.observe(operation, 'success')
      return result
    } catch (error) {
      this.observe(operation, error instanceof Error ? error.name : 'Error')
      throw error
    }
  }
}

function fromSummary(summary: PodIdentityAssociationSummary): AssociationSummary {
  return {
    associationId: summary.associationId ?? '',
    associationArn: summary.associationArn ?? '',
    namespace: summary.namespace ?? '',
    serviceAccount: summary.serviceAccount ?? '',
    ...(summary.ownerArn ? { ownerArn: summary.ownerArn } : {}),
  }
}

function fromAssociation(association: PodIdentityAssociation | undefined): ActualAssociation {
  if (!association?.associationId) throw new Error('EKS answered without an association')
  return {
    associationId: association.associationId,
    associationArn: association.associationArn ?? '',
    namespace: association.namespace ?? '',
    serviceAccount: association.serviceAccount ?? '',
    roleArn: association.roleArn ?? '',
    ...(association.targetRoleArn ? { targetRoleArn: association.targetRoleArn } : {}),
    ...(association.policy ? { policy: association.policy } : {}),
    disableSessionTags: association.disableSessionTags ?? false,
    ...(association.ownerArn ? { ownerArn: association.ownerArn } : {}),
    tags: { ...association.tags },
  }
}
