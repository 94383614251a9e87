import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam'
import { BaseRoleUnavailableError, type BaseRoleDocuments, type BaseRoleSource } from './base-role-source.js'
import { describeIamFailure, type IamCallSubject } from './iam-errors.js'
import { parseRoleArn } from './role-arn.js'

export interface IamClientSettings {
  /** The config's `region`; IAM is global, but the region picks the partition's endpoint. */
  region?: string
  /** `baseRoles.iam.endpoint`: tests and VPC endpoints. The SDK's endpoint otherwise. */
  endpoint?: string
}

/**
 * An IAM client from the standard SDK chain (credentials from Pod Identity in the cluster). Timeouts are
 * short because an admission review waits on it: a slow IAM must become a clear denial, not a
 * kube-apiserver timeout.
 */
export function createIamClient(settings: IamClientSettings = {}): IAMClient {
  return new IAMClient({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  })
}

export interface IamBaseRolesOptions {
  /** MaxItems for ListRolePolicies and ListAttachedRolePolicies; IAM's own default (100) when absent. */
  pageSize?: number
  /** How many policy documents of one list are read at once. */
  concurrency?: number
}

/** Reads a role's inline, attached managed and permissions-boundary documents from IAM. */
export class IamBaseRoles implements BaseRoleSource {
  readonly #iam: IAMClient
  readonly #pageSize: number | undefined
  readonly #concurrency: number

  constructor(iam: IAMClient, options: IamBaseRolesOptions = {}) {
    this.#iam = iam
    this.#pageSize = options.pageSize
    this.#concurrency = Math.max(1, options.concurrency ?? 4)
  }

  async get(roleArn: string): Promise<BaseRoleDocuments> {
    const roleName = parseRoleArn(roleArn)?.roleName
    if (roleName === undefined) throw new BaseRoleUnavailableError(roleArn, 'it is not an IAM role ARN')
    const call = <T>(what: IamCallSubject, run: () => Promise<T>) => attempt(roleArn, what, run)
    const roleSubject = `role ${roleName}`

    const { Role: role } = await call({ operation: 'GetRole', subject: roleSubject }, () =>
      this.#iam.send(new GetRoleCommand({ RoleName: roleName })))
    if (role?.Arn !== roleArn) throw new BaseRoleUnavailableError(roleArn, arnMismatch(roleArn, roleName, role?.Arn))

    const boundaryArn = role.PermissionsBoundary?.PermissionsBoundaryArn
    const [inline, attached, permissionsBoundary] = await Promise.all([
      this.#inlinePolicies(roleArn, roleName),
      this.#attachedPolicies(roleArn, roleName),
      boundaryArn === undefined ? undefined : this.#managedPolicy(roleArn, `permissions boundary ${boundaryArn}`, boundaryArn),
    ])
    const documents: BaseRoleDocuments = { roleArn, policies: [...inline, ...attached] }
    if (permissionsBoundary !== undefined) documents.permissionsBoundary = permissionsBoundary
    return documents
  }

  async #inlinePolicies(roleArn: string, roleName: string): Promise<string[]> {
    const names = await readAllPages(async (marker) => {
      const page = await attempt(roleArn, { operation: 'ListRolePolicies', subject: `role ${roleName}` }, () =>
        this.#iam.send(new ListRolePoliciesCommand({ RoleName: roleName, MaxItems: this.#pageSize, Marker: marker })))
      return { items: page.PolicyNames ?? [], marker: page.IsTruncated ? page.Marker : undefined }
    })
    return mapLimited(names, this.#concurrency, async (policyName) => {
      const subject = `inline policy ${policyName} of role ${roleName}`
      const answer = await attempt(roleArn, { operation: 'GetRolePolicy', subject }, () =>
        this.#iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })))
      return policyDocumentText(roleArn, subject, answer.PolicyDocument)
    })
  }

  async #attachedPolicies(roleArn: string, roleName: string): Promise<string[]> {
    const policyArns = await readAllPages(async (marker) => {
      const page = await attempt(roleArn, { operation: 'ListAttachedRolePolicies', subject: `role ${roleName}` }, () =>
        this.#iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, MaxItems: this.#pageSize, Marker: marker })))
      const arns = (page.AttachedPolicies ?? []).flatMap((policy) => (policy.PolicyArn ? [policy.PolicyArn] : []))
      return { items: arns, marker: page.IsTruncated ? page.Marker : undefined }
    })
    return mapLimited(policyArns, this.#concurrency, (policyArn) =>
      this.#managedPolicy(roleArn, `managed policy ${policyArn}`, policyArn))
  }

  /** A managed policy's default version: the only one IAM evaluates. */
  async #managedPolicy(roleArn: string, subject: string, policyArn: string): Promise<string> {
    const { Policy: policy } = await attempt(roleArn, { operation: 'GetPolicy', subject }, () =>
      this.#iam.send(new GetPolicyCommand({ PolicyArn: policyArn })))
    const versionId = policy?.DefaultVersionId
    if (!versionId) throw new BaseRoleUnavailableError(roleArn, `IAM returned no default version for ${subject}`)
    const { PolicyVersion: version } = await attempt(roleArn, { operation: 'GetPolicyVersion', subject }, () =>
      this.#iam.send(new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: versionId })))
    return policyDocumentText(roleArn, subject, version?.Document)
  }
}

/**
 * IAM returns policy documents URL-encoded (RFC 3986). Some emulators return GetPolicyVersion documents
 * as plain JSON; a policy document always starts with `{`, which IAM's encoding never leaves as is.
 */
export function decodePolicyDocument(text: string): string {
  return text.trimStart().startsWith('{') ? text : decodeURIComponent(text)
}

function policyDocumentText(roleArn: string, subject: string, text: string | undefined): string {
  if (text === undefined) throw new BaseRoleUnavailableError(roleArn, `IAM returned no document for ${subject}`)
  let decoded: string
  try {
    decoded = decodePolicyDocument(text)
    JSON.parse(decoded)
  } catch (error) {
    throw new BaseRoleUnavailableError(roleArn, `the document of ${subject} is not JSON`, { cause: error })
  }
  return decoded
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

async function attempt<T>(roleArn: string, call: IamCallSubject, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    throw new BaseRoleUnavailableError(roleArn, describeIamFailure(error, call), { cause: error })
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
