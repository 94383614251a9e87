/**
 * What EKS holds, read for the planner: the list (every page, the source of truth for which
 * associations exist) and their details, cached by id from describes and from the answers to our own
 * writes, so a pass over an unchanged cluster costs the list pages and no describes until an entry
 * ages out (then it is described again, which is how drift made behind our back is found).
 */
import type { ActualAssociation, AssociationSummary } from './association.js'
import type { AssociationStore } from './engine.js'
import { mapPool } from './pool.js'

export class ActualState {
  private readonly cache = new Map<string, { association: ActualAssociation; atMs: number }>()

  constructor(
    private readonly eks: AssociationStore,
    private readonly options: { concurrency: number; maxAgeMs: number; now: () => number },
  ) {}

  /** Every association of the namespaces (empty: the whole cluster), described. */
  async read(namespaces: readonly string[]): Promise<ActualAssociation[]> {
    const lists =
      namespaces.length > 0
        ? await Promise.all([...new Set(namespaces)].map((namespace) => this.eks.list({ namespace })))
        : [await this.eks.list()]
    return this.describeAll(lists.flat())
  }

  /** The associations of one ServiceAccount, described. */
  async readOne(namespace: string, serviceAccount: string): Promise<ActualAssociation[]> {
    return this.describeAll(await this.eks.list({ namespace, serviceAccount }))
  }

  get(associationId: string): ActualAssociation | undefined {
    return this.cache.get(associationId)?.association
  }

  remember(association: ActualAssociation): void {
    this.cache.set(association.associationId, { association, atMs: this.options.now() })
  }

  forget(associationId?: string): void {
    if (associationId === undefined) this.cache.clear()
    else this.cache.delete(associationId)
  }

  private async describeAll(summaries: AssociationSummary[]): Promise<ActualAssociation[]> {
    const described = await mapPool(summaries, this.options.concurrency, async (summary) => {
      // Add-on associations are never touched: what the summary says is all the plan needs.
      if (summary.ownerArn) return { ...summary, roleArn: '', disableSessionTags: false, tags: {} }
      const cached = this.cache.get(summary.associationId)
      if (cached && this.options.now() - cached.atMs < this.options.maxAgeMs) return cached.association
      const association = await this.eks.describe(summary.associationId)
      if (association) this.remember(association)
      else this.forget(summary.associationId)
      return association
    })
    return described.filter((a): a is ActualAssociation => a !== undefined)
  }
}
