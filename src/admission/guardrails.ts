import type { AllowedRolesEntry } from '../config/types.js'
import { globRegExp } from '../util/glob.js'

/** `guardrails.allowedRoles` compiled: which roles a namespace may use. */
export class Guardrails {
  private readonly entries: Array<{ namespaces: RegExp[]; roles: RegExp[] }> | undefined

  constructor(allowedRoles: AllowedRolesEntry[] | undefined) {
    this.entries = allowedRoles?.map((entry) => ({
      namespaces: entry.namespaces.map(globRegExp),
      roles: entry.roles.map(globRegExp),
    }))
  }

  /** Whether guardrails are configured at all; without them every namespace may use every role. */
  get configured(): boolean {
    return this.entries !== undefined
  }

  allows(namespace: string, roleArn: string): boolean {
    if (!this.entries) return true
    return this.entries.some((e) => e.namespaces.some((n) => n.test(namespace)) && e.roles.some((r) => r.test(roleArn)))
  }
}
