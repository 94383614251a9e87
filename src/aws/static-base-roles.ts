import type { PolicyDocumentInput, StaticBaseRole } from '../config/types.js'
import { BaseRoleUnavailableError, type BaseRoleDocuments, type BaseRoleSource } from './base-role-source.js'

/**
 * Base roles written in the config (`baseRoles.static`: role ARN → policies and boundary), for clusters
 * whose webhook may not read IAM, and for the CLI. Documents are turned into JSON text once, at
 * construction, so a document that is not JSON stops the start with a message naming it.
 */
export class StaticBaseRoles implements BaseRoleSource {
  readonly #roles = new Map<string, BaseRoleDocuments>()

  constructor(roles: Record<string, StaticBaseRole>) {
    for (const [roleArn, role] of Object.entries(roles)) {
      const where = `baseRoles.static["${roleArn}"]`
      const documents: BaseRoleDocuments = {
        roleArn,
        policies: role.policies.map((policy, index) => documentText(policy, `${where}.policies[${index}]`)),
      }
      if (role.permissionsBoundary !== undefined) {
        documents.permissionsBoundary = documentText(role.permissionsBoundary, `${where}.permissionsBoundary`)
      }
      Object.freeze(documents.policies)
      this.#roles.set(roleArn, Object.freeze(documents))
    }
  }

  get(roleArn: string): Promise<BaseRoleDocuments> {
    const documents = this.#roles.get(roleArn)
    if (documents === undefined) {
      return Promise.reject(new BaseRoleUnavailableError(roleArn, `role ${roleArn} is not listed in baseRoles.static`))
    }
    // One frozen answer per role: callers may key their own caches on it, and none can change it.
    return Promise.resolve(documents)
  }
}

function documentText(document: PolicyDocumentInput, where: string): string {
  if (typeof document !== 'string') return JSON.stringify(document)
  try {
    JSON.parse(document)
  } catch (error) {
    throw new Error(`${where} is not a JSON policy document: ${(error as Error).message}`, { cause: error })
  }
  return document
}
