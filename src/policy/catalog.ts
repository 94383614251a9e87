import { globRegExp as wildcardRegExp } from '../util/glob.js'
import { ActionSet } from './action-set.js'

/** Service prefix → action names, as the IAM catalog lists them (e.g. `s3` → `GetObject`, …). */
export type CatalogData = Record<string, string[]>

const MAX_MEMOIZED_PATTERNS = 20_000

/**
 * Every IAM action, each with an id in sorted `service:action` order. Wildcard patterns (`*`, `?`,
 * case-insensitive) are expanded through a per-service index, so a pattern with a literal service
 * part only looks at that service's actions. Expansions are memoized: policies repeat patterns.
 */
export class ActionCatalog {
  readonly size: number
  private readonly names: string[]
  private readonly byService = new Map<string, { first: number; names: string[] }>()
  private readonly byLowerName = new Map<string, number>()
  private readonly expansions = new Map<string, readonly number[]>()

  constructor(data: CatalogData) {
    const all: Array<[string, string]> = []
    for (const [service, actions] of Object.entries(data)) {
      const prefix = service.toLowerCase()
      for (const action of new Set(actions)) all.push([`${prefix}:${action.toLowerCase()}`, `${prefix}:${action}`])
    }
    all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    this.names = []
    for (const [lower, name] of all) {
      if (this.byLowerName.has(lower)) continue
      const id = this.names.length
      this.names.push(name)
      this.byLowerName.set(lower, id)
      const service = lower.slice(0, lower.indexOf(':'))
      const entry = this.byService.get(service)
      if (entry) entry.names.push(lower.slice(service.length + 1))
      else this.byService.set(service, { first: id, names: [lower.slice(service.length + 1)] })
    }
    this.size = this.names.length
  }

  get serviceCount(): number {
    return this.byService.size
  }

  /** The catalog's spelling of an action, e.g. `s3:GetObject`. */
  name(id: number): string {
    return this.names[id] as string
  }

  empty(): ActionSet {
    return new ActionSet(this.size)
  }

  all(): ActionSet {
    return ActionSet.full(this.size)
  }

  /** The ids of every action a pattern matches (none for a pattern that names no IAM action). */
  expand(pattern: string): readonly number[] {
    const key = pattern.toLowerCase()
    let ids = this.expansions.get(key)
    if (ids === undefined) {
      ids = this.expandUncached(key)
      if (this.expansions.size >= MAX_MEMOIZED_PATTERNS) this.expansions.clear()
      this.expansions.set(key, ids)
    }
    return ids
  }

  /** The set of actions any of the patterns matches. */
  match(patterns: readonly string[]): ActionSet {
    const set = this.empty()
    for (const pattern of patterns) {
      if (pattern === '*') return this.all()
      set.addAll(this.expand(pattern))
    }
    return set
  }

  private expandUncached(pattern: string): readonly number[] {
    if (pattern === '*') return Array.from({ length: this.size }, (_, i) => i)
    const colon = pattern.indexOf(':')
    if (colon < 0) return []
    const servicePart = pattern.slice(0, colon)
    const actionPart = pattern.slice(colon + 1)
    const services = hasWildcard(servicePart)
      ? [...this.byService.keys()].filter((s) => wildcardRegExp(servicePart).test(s))
      : [servicePart]
    const ids: number[] = []
    for (const service of services) {
      const entry = this.byService.get(service)
      if (!entry) continue
      if (!hasWildcard(actionPart)) {
        const id = this.byLowerName.get(`${service}:${actionPart}`)
        if (id !== undefined) ids.push(id)
        continue
      }
      const regExp = wildcardRegExp(actionPart)
      entry.names.forEach((name, i) => {
        if (regExp.test(name)) ids.push(entry.first + i)
      })
    }
    return ids
  }
}

function hasWildcard(text: string): boolean {
  return text.includes('*') || text.includes('?')
}

