import type { IamBaseRoleSettings } from '../config/types.js'
import { BaseRoleUnavailableError, type BaseRoleDocuments, type BaseRoleSource } from './base-role-source.js'

export type BaseRoleCacheSettings = Pick<IamBaseRoleSettings, 'cacheTtlSeconds' | 'maxStaleSeconds' | 'maxRoles'>

/** Where metrics attach. Called synchronously; they must not throw. */
export interface BaseRoleCacheHooks {
  /** A get() answered from a copy younger than the TTL. */
  onHit?(roleArn: string): void
  /** A get() that waits on a lookup: one it starts or one already in flight for the role. */
  onMiss?(roleArn: string): void
  /** A lookup failed, once per lookup; `servedStale` tells whether an expired copy answered instead. */
  onError?(roleArn: string, error: BaseRoleUnavailableError, servedStale: boolean): void
}

export interface BaseRoleCacheOptions {
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now?: () => number
  hooks?: BaseRoleCacheHooks
}

interface CachedRole {
  documents: BaseRoleDocuments
  fetchedAt: number
}

/**
 * Keeps base roles read from a slower source (IAM) for `cacheTtlSeconds`. Concurrent gets of one role
 * share one lookup; at most `maxRoles` roles are kept, the least recently used leaving first. When a
 * lookup fails, a copy that expired at most `maxStaleSeconds` ago still answers, so a short IAM outage
 * does not deny every review; past that the webhook fails closed. Failures are not cached: the next get
 * asks again. Answers are shared between callers, who must not change them.
 */
export class BaseRoleCache implements BaseRoleSource {
  readonly #source: BaseRoleSource
  readonly #ttlMs: number
  readonly #staleMs: number
  readonly #maxRoles: number
  readonly #now: () => number
  readonly #hooks: BaseRoleCacheHooks
  /** Least recently used first: a Map iterates in insertion order and a use re-inserts. */
  readonly #roles = new Map<string, CachedRole>()
  readonly #lookups = new Map<string, Promise<BaseRoleDocuments>>()

  constructor(source: BaseRoleSource, settings: BaseRoleCacheSettings, options: BaseRoleCacheOptions = {}) {
    this.#source = source
    this.#ttlMs = settings.cacheTtlSeconds * 1000
    this.#staleMs = settings.maxStaleSeconds * 1000
    this.#maxRoles = settings.maxRoles
    this.#now = options.now ?? Date.now
    this.#hooks = options.hooks ?? {}
  }

  /** How many roles are cached. */
  get size(): number {
    return this.#roles.size
  }

  get(roleArn: string): Promise<BaseRoleDocuments> {
    const cached = this.#roles.get(roleArn)
    if (cached !== undefined && this.#now() - cached.fetchedAt < this.#ttlMs) {
      this.#roles.delete(roleArn)
      this.#roles.set(roleArn, cached)
      this.#hooks.onHit?.(roleArn)
      return Promise.resolve(cached.documents)
    }
    this.#hooks.onMiss?.(roleArn)
    const inFlight = this.#lookups.get(roleArn)
    if (inFlight !== undefined) return inFlight
    const lookup: Promise<BaseRoleDocuments> = this.#lookUp(roleArn).finally(() => {
      if (this.#lookups.get(roleArn) === lookup) this.#lookups.delete(roleArn)
    })
    this.#lookups.set(roleArn, lookup)
    return lookup
  }

  async #lookUp(roleArn: string): Promise<BaseRoleDocuments> {
    try {
      const documents = await this.#source.get(roleArn)
      this.#remember(roleArn, documents)
      return documents
    } catch (error) {
      const unavailable = asUnavailable(roleArn, error)
      const stale = this.#staleCopy(roleArn)
      this.#hooks.onError?.(roleArn, unavailable, stale !== undefined)
      if (stale === undefined) throw unavailable
      return stale
    }
  }

  #remember(roleArn: string, documents: BaseRoleDocuments): void {
    this.#roles.delete(roleArn)
    if (this.#maxRoles < 1) return
    this.#roles.set(roleArn, { documents, fetchedAt: this.#now() })
    for (const oldest of this.#roles.keys()) {
      if (this.#roles.size <= this.#maxRoles) break
      this.#roles.delete(oldest)
    }
  }

  #staleCopy(roleArn: string): BaseRoleDocuments | undefined {
    const cached = this.#roles.get(roleArn)
    if (cached === undefined) return undefined
    if (this.#now() - cached.fetchedAt <= this.#ttlMs + this.#staleMs) return cached.documents
    this.#roles.delete(roleArn)
    return undefined
  }
}

function asUnavailable(roleArn: string, error: unknown): BaseRoleUnavailableError {
  if (error instanceof BaseRoleUnavailableError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new BaseRoleUnavailableError(roleArn, `the base-role source failed: ${message}`, { cause: error })
}
