/**
 * ServiceAccounts kept in memory by list + watch: a paged list, then a watch from its resourceVersion that
 * resumes where it stopped; when the resourceVersion has expired (410 Gone) a fresh list replaces the
 * cache and the difference is reported, so a delete missed meanwhile is still seen.
 */
import { CoreV1Api, Watch } from '@kubernetes/client-node'
import type { KubeConfig, V1ServiceAccount, V1ServiceAccountList } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { ServiceAccountRef } from '../admission/judgment.js'
import { describeError, httpStatus } from './errors.js'

export interface WatchedServiceAccount extends ServiceAccountRef {
  uid: string
  resourceVersion: string
}

export type ServiceAccountChange =
  | { type: 'upsert'; serviceAccount: WatchedServiceAccount; previous?: WatchedServiceAccount }
  | { type: 'delete'; serviceAccount: WatchedServiceAccount }

export interface ServiceAccountWatcherOptions {
  kubeConfig: KubeConfig
  /** Namespaces to watch; empty means every namespace. */
  namespaces: readonly string[]
  onChange: (change: ServiceAccountChange) => void
  logger: Logger
  pageSize?: number
  /** Server-side watch timeout; the watch is then resumed from the last resourceVersion. */
  watchTimeoutSeconds?: number
}

const maxRetryDelayMs = 30_000

export class ServiceAccountWatcher {
  private readonly options: ServiceAccountWatcherOptions
  private readonly core: CoreV1Api
  private readonly watch: Watch
  private readonly scopes: Scope[]
  private stopped = false
  /** Full lists made so far: one per scope at start, one more each time a resourceVersion expired. */
  listCount = 0
  /** Bumped by every start and stop, so a loop from an earlier start ends instead of doubling up. */
  private generation = 0

  constructor(options: ServiceAccountWatcherOptions) {
    this.options = options
    this.core = options.kubeConfig.makeApiClient(CoreV1Api)
    this.watch = new Watch(options.kubeConfig)
    const namespaces = options.namespaces.length > 0 ? [...new Set(options.namespaces)] : [undefined]
    this.scopes = namespaces.map((namespace) => ({ namespace, resourceVersion: '', objects: new Map(), retries: 0 }))
  }

  /**
   * Lists every scope not listed yet (the cache is then complete) and keeps watching in the background.
   * After a stop, a start resumes each watch from the last resourceVersion seen.
   */
  async start(): Promise<void> {
    this.stopped = false
    const generation = ++this.generation
    await Promise.all(this.scopes.filter((scope) => !scope.resourceVersion).map((scope) => this.relist(scope)))
    for (const scope of this.scopes) void this.watchLoop(scope, generation)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.generation++
    for (const scope of this.scopes) scope.abort?.abort()
  }

  list(): WatchedServiceAccount[] {
    return this.scopes.flatMap((scope) => [...scope.objects.values()])
  }

  get(namespace: string, name: string): WatchedServiceAccount | undefined {
    for (const scope of this.scopes) {
      const found = scope.objects.get(`${namespace}/${name}`)
      if (found) return found
    }
    return undefined
  }

  private async watchLoop(scope: Scope, generation: number): Promise<void> {
    while (!this.stopped && generation === this.generation) {
      try {
        if (!scope.resourceVersion) await this.relist(scope)
        const ended = await this.watchOnce(scope)
        if (ended === 'expired') scope.resourceVersion = ''
        scope.retries = 0
      } catch (error) {
        if (this.stopped || generation !== this.generation) return
        if (httpStatus(error) === 410) {
          scope.resourceVersion = ''
          continue
        }
        const delayMs = Math.min(500 * 2 ** scope.retries, maxRetryDelayMs)
        scope.retries++
        this.options.logger.warn(
          { namespace: scope.namespace ?? '*', error: describeError(error), delayMs },
          'ServiceAccount watch failed; retrying',
        )
        await sleep(delayMs)
      }
    }
  }

  /** Resolves when the server ends the watch: `expired` when it reports the resourceVersion as gone. */
  private watchOnce(scope: Scope): Promise<'ended' | 'expired'> {
    return new Promise((resolve, reject) => {
      let expired = false
      const onEvent = (phase: string, object: unknown): void => {
        if (phase === 'ERROR') {
          if ((object as { code?: number }).code === 410) expired = true
          return
        }
        const serviceAccount = object as V1ServiceAccount
        const resourceVersion = serviceAccount.metadata?.resourceVersion
        if (resourceVersion) scope.resourceVersion = resourceVersion
        if (phase === 'BOOKMARK') return
        if (phase === 'DELETED') this.remove(scope, toWatched(serviceAccount))
        else this.upsert(scope, toWatched(serviceAccount))
      }
      const onDone = (error: unknown): void => {
        scope.abort = undefined
        if (error && !this.stopped && !isTimeout(error)) reject(error)
        else resolve(expired ? 'expired' : 'ended')
      }
      const path = scope.namespace
        ? `/api/v1/namespaces/${encodeURIComponent(scope.namespace)}/serviceaccounts`
        : '/api/v1/serviceaccounts'
      const timeoutSeconds = this.options.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120)
      this.watch
        .watch(path, { resourceVersion: scope.resourceVersion, allowWatchBookmarks: true, timeoutSeconds }, onEvent, onDone)
        .then((abort) => {
          if (this.stopped) abort.abort()
          else scope.abort = abort
        }, reject)
    })
  }

  /** A fresh paged list replaces the scope's cache; what disappeared is reported deleted. */
  private async relist(scope: Scope): Promise<void> {
    this.listCount++
    const { items, resourceVersion } = await listPaged(this.core, scope.namespace, this.options.pageSize ?? 500)
    const seen = new Map(items.map((item) => [keyOf(item), item]))
    for (const [key, old] of scope.objects) if (!seen.has(key)) this.remove(scope, old)
    for (const watched of seen.values()) this.upsert(scope, watched)
    scope.resourceVersion = resourceVersion
  }

  private upsert(scope: Scope, serviceAccount: WatchedServiceAccount): void {
    const key = keyOf(serviceAccount)
    const previous = scope.objects.get(key)
    if (previous?.resourceVersion === serviceAccount.resourceVersion) return
    scope.objects.set(key, serviceAccount)
    this.options.onChange({ type: 'upsert', serviceAccount, ...(previous ? { previous } : {}) })
  }

  private remove(scope: Scope, serviceAccount: WatchedServiceAccount): void {
    const key = keyOf(serviceAccount)
    if (!scope.objects.delete(key)) return
    this.options.onChange({ type: 'delete', serviceAccount })
  }
}

/** Every ServiceAccount of the namespaces (empty: all), read once with a paged list. */
export async function listServiceAccounts(
  kubeConfig: KubeConfig,
  namespaces: readonly string[],
  pageSize = 500,
): Promise<WatchedServiceAccount[]> {
  const core = kubeConfig.makeApiClient(CoreV1Api)
  const scopes = namespaces.length > 0 ? [...new Set(namespaces)] : [undefined]
  const lists = await Promise.all(scopes.map((namespace) => listPaged(core, namespace, pageSize)))
  return lists.flatMap((list) => list.items)
}

async function listPaged(
  core: CoreV1Api,
  namespace: string | undefined,
  limit: number,
): Promise<{ items: WatchedServiceAccount[]; resourceVersion: string }> {
  const items: WatchedServiceAccount[] = []
  let continueToken: string | undefined
  let resourceVersion = ''
  do {
    const paging = { limit, ...(continueToken ? { _continue: continueToken } : {}) }
    const page: V1ServiceAccountList = namespace
      ? await core.listNamespacedServiceAccount({ namespace, ...paging })
      : await core.listServiceAccountForAllNamespaces(paging)
    for (const item of page.items) items.push(toWatched(item))
    continueToken = page.metadata?._continue || undefined
    resourceVersion = page.metadata?.resourceVersion ?? ''
  } while (continueToken)
  return { items, resourceVersion }
}

interface Scope {
  namespace: string | undefined
  resourceVersion: string
  objects: Map<string, WatchedServiceAccount>
  retries: number
  abort?: AbortController | undefined
}

function toWatched(serviceAccount: V1ServiceAccount): WatchedServiceAccount {
  const metadata = serviceAccount.metadata ?? {}
  return {
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    annotations: { ...metadata.annotations },
    uid: metadata.uid ?? '',
    resourceVersion: metadata.resourceVersion ?? '',
  }
}

function keyOf(serviceAccount: ServiceAccountRef): string {
  return `${serviceAccount.namespace}/${serviceAccount.name}`
}

// client-node ends an idle watch after 30 s without data; that is a resume, not a failure.
function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError'
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
