import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { BaseRoleUnavailableError, type BaseRoleDocuments, type BaseRoleSource } from './base-role-source.js'
import { policyDocumentText } from './iam-documents.js'
import { describeIamFailure, type IamCallSubject } from './iam-errors.js'
import { parseRoleArn } from './role-arn.js'

export interface IamBaseRolesOptions {
  /** MaxItems for ListRolePolicies and ListAttachedRolePolicies; IAM's own default (100) when absent. */
  pageSize?: number
  /** How many policy documents of one list are read at once. */
  concurrency?: number
  /**
   * Deadline of one role's whole lookup (every call and retry). It must stay under the webhook's
   * timeoutSeconds, so that a hanging IAM gives a denial that says so rather than an apiserver timeout.
   */
  timeoutMs?: number
}

/** One role's lookup: what every IAM call of it needs to send and to explain a failure. */
interface Lookup {
  roleArn: string
  roleName: string
  signal: AbortSignal
  timeoutMs: number
}

/** Reads a role's inline, attached managed and permissions-boundary documents from IAM. */
export class IamBaseRoles implements BaseRoleSource {
  readonly #iam: IAMClient
  readonly #pageSize: number | undefined
  readonly #concurrency: number
  readonly #timeoutMs: number

  constructor(iam: IAMClient, options: IamBaseRolesOptions = {}) {
    this.#iam = iam
    this.#pageSize = options.pageSize
    this.#concurrency = Math.max(1, options.concurrency ?? 4)
    this.#timeoutMs = options.timeoutMs ?? 8_000
  }

  async get(roleArn: string): Promise<BaseRoleDocuments> {
    const roleName = parseRoleArn(roleArn)?.roleName
    if (roleName === undefined) throw new BaseRoleUnavailableError(roleArn, 'it is not an IAM role ARN')
    const lookup: Lookup = { roleArn, roleName, signal: AbortSignal.timeout(this.#timeoutMs), timeoutMs: this.#timeoutMs }

    const { Role: role } = await attempt(lookup, { operation: 'GetRole', subject: `role ${roleName}` }, (options) =>
      this.#iam.send(new GetRoleCommand({ RoleName: roleName }), options))
    if (role?.Arn !== roleArn) throw new BaseRoleUnavailableError(roleArn, arnMismatch(roleArn, roleName, role?.Arn))

    const boundaryArn = role.PermissionsBoundary?.PermissionsBoundaryArn
    const [inline, attached, permissionsBoundary] = await Promise.all([
      this.#inlinePolicies(lookup),
      this.#attachedPolicies(lookup),
      boundaryArn === undefined ? undefined : this.#managedPolicy(lookup, `permissions boundary ${boundaryArn}`, boundaryArn),
    ])
    const documents: BaseRoleDocuments = { roleArn, policies: [...inline, ...attached] }
    if (permissionsBoundary !== undefined) documents.permissionsBoundary = permissionsBoundary
    return documents
  }

  async #inlinePolicies(lookup: Lookup): Promise<string[]> {
    const { roleName } = lookup
    const names = await readAllPages(async (marker) => {
      const page = await attempt(lookup, { operation: 'ListRolePolicies', subject: `role ${roleName}` }, (options) =>
        this.#iam.send(new ListRolePoliciesCommand({ RoleName: roleName, MaxItems: this.#pageSize, Marker: marker }), options))
      return { items: page.PolicyNames ?? [], marker: page.IsTruncated ? page.Marker : undefined }
    })
    return mapLimited(names, this.#concurrency, async (policyName) => {
      const subject = `inline policy ${policyName} of role ${roleName}`
      const answer = await attempt(lookup, { operation: 'GetRolePolicy', subject }, (options) =>
        this.#iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }), options))
      return policyDocumentText(lookup.roleArn, subject, answer.PolicyDocument)
    })
  }

  async #attachedPolicies(lookup: Lookup): Promise<string[]> {
    const { roleName } = lookup
    const policyArns = await readAllPages(async (marker) => {
      const page = await attempt(lookup, { operation: 'ListAttachedRolePolicies', subject: `role ${roleName}` }, (options) =>
        this.#iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, MaxItems: this.#pageSize, Marker: marker }), options))
      const arns = (page.AttachedPolicies ?? []).flatMap((policy) => (policy.PolicyArn ? [policy.PolicyArn] : []))
      return { items: arns, marker: page.IsTruncated ? page.Marker : undefined }
    })
    return mapLimited(policyArns, this.#concurrency, (policyArn) =>
      this.#managedPolicy(lookup, `managed policy ${policyArn}`, policyArn))
  }

  /** A managed policy's default version: the only one IAM evaluates. */
  async #managedPolicy(lookup: Lookup, subject: string, policyArn: string): Promise<string> {
    const { Policy: policy } = await attempt(lookup, { operation: 'GetPolicy', subject }, (options) =>
      this.#iam.send(new GetPolicyCommand({ PolicyArn: policyArn }), options))
    const versionId = policy?.DefaultVersionId
    if (!versionId) throw new BaseRoleUnavailableError(lookup.roleArn, `IAM returned no default version for ${subject}`)
    const { PolicyVersion: version } = await attempt(lookup, { operation: 'GetPolicyVersion', subject }, (options) =>
      this.#iam.send(new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: versionId }), options))
    return policyDocumentText(lookup.roleArn, subject, version?.Document)
  }
}

function arnMismatch(roleArn: string, roleName: string, foundArn: string | undefined): string {
  if (foundArn === undefined) return `IAM returned no ARN for role ${roleName}`
  const wanted = parseRoleArn(roleArn)
  const found = parseRoleArn(foundArn)
  if (wanted && found && wanted.accountId !== found.accountId) {
    return `the role is in account ${wanted.accountId}, but the IAM credentials are for account ${found.accountId}`
  }
  return `IAM knows role ${roleName} as ${foundArn}; correct the ARN`
}

/** Sends one IAM call of a lookup; its failure becomes the lookup's BaseRoleUnavailableError. */
async function attempt<T>(lookup: Lookup, call: IamCallSubject, send: (options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
  try {
    return await send({ abortSignal: lookup.signal })
  } catch (error) {
    const reason = lookup.signal.aborted
      ? `IAM did not answer ${call.operation} on ${call.subject} within ${lookup.timeoutMs} ms`
      : describeIamFailure(error, call)
    throw new BaseRoleUnavailableError(lookup.roleArn, reason, { cause: error })
  }
}

async function readAllPages<T>(readPage: (marker: string | undefined) => Promise<{ items: T[]; marker: string | undefined }>): Promise<T[]> {
  const items: T[] = []
  let marker: string | undefined
  do {
    const page = await readPage(marker)
    items.push(...page.items)
    marker = page.marker
  } while (marker !== undefined)
  return items
}

/** Like Promise.all over `items.map(run)`, with at most `limit` runs at once; stops starting runs after a failure. */
async function mapLimited<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++
      try {
        results[index] = await run(items[index] as T)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
