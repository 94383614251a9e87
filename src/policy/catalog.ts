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
  private readonly names: string[] = []
  /** Per service: the id of its first action and its lower-case action names in id order. */
  private readonly byService = new Map<string, { first: number; names: string[] }>()
  private readonly expansions = new Map<string, readonly number[]>()

  constructor(data: CatalogData) {
    // Ids follow the sorted order of "service:action"; with services sorted by "prefix:" and each
    // service's actions sorted, no global sort of 22,000 strings is needed at start.
    const services = Object.keys(data).sort((a, b) => compare(`${a.toLowerCase()}:`, `${b.toLowerCase()}:`))
    for (const service of services) {
      const prefix = service.toLowerCase()
      if (this.byService.has(prefix)) continue
      const actions = sortedUnique(data[service] ?? [])
      this.byService.set(prefix, { first: this.names.length, names: actions.map(([lower]) => lower) })
      for (const [, action] of actions) this.names.push(`${prefix}:${action}`)
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
        const index = binarySearch(entry.names, actionPart)
        if (index >= 0) ids.push(entry.first + index)
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


/** Actions as [lower-case, spelling] pairs, sorted and de-duplicated case-insensitively. */
function sortedUnique(actions: string[]): Array<[string, string]> {
  const pairs = actions.map((action): [string, string] => [action.toLowerCase(), action])
  let sorted = true
  for (let i = 1; i < pairs.length && sorted; i++) sorted = compare(pairs[i - 1]![0], pairs[i]![0]) < 0
  if (sorted) return pairs
  pairs.sort(([a], [b]) => compare(a, b))
  return pairs.filter(([lower], i) => i === 0 || pairs[i - 1]![0] !== lower)
}

function binarySearch(sorted: string[], value: string): number {
  let low = 0
  let high = sorted.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const order = compare(sorted[middle]!, value)
    if (order === 0) return middle
    if (order < 0) low = middle + 1
    else high = middle - 1
  }
  return -1
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
