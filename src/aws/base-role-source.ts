/** The documents that make a base role: what the engine checks a session policy against. */
export interface BaseRoleDocuments {
  roleArn: string
  /** Policy documents as JSON text (inline and attached managed policies, in any order). */
  policies: string[]
  /** The role's permissions boundary document as JSON text, when it has one. */
  permissionsBoundary?: string
}

/** Where base roles come from: IAM (src/aws/iam-base-roles.ts) or the config file (static). */
export interface BaseRoleSource {
  /** Resolves the role's documents, or rejects with BaseRoleUnavailableError. */
  get(roleArn: string): Promise<BaseRoleDocuments>
}

/** The base role's policies cannot be read: the webhook fails closed with BASE_ROLE_UNAVAILABLE. */
export class BaseRoleUnavailableError extends Error {
  readonly roleArn: string
  constructor(roleArn: string, reason: string, options?: { cause?: unknown }) {
    super(`the policies of ${roleArn} cannot be read: ${reason}`, options)
    this.name = 'BaseRoleUnavailableError'
    this.roleArn = roleArn
  }
}
