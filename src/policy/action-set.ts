/**
 * A set of actions of one catalog, as a bit set over the catalog's action ids. Every set the engine
 * builds is one of these, so union, difference and membership cost a pass over ~700 words.
 */
export class ActionSet {
  readonly words: Uint32Array

  constructor(readonly size: number, words?: Uint32Array) {
    this.words = words ?? new Uint32Array(Math.ceil(size / 32))
  }

  static full(size: number): ActionSet {
    const set = new ActionSet(size)
    set.words.fill(0xffffffff)
    const extra = set.words.length * 32 - size
    if (extra > 0) set.words[set.words.length - 1] = 0xffffffff >>> extra
    return set
  }

  add(id: number): void {
    this.words[id >>> 5]! |= 1 << (id & 31)
  }

  has(id: number): boolean {
    return (this.words[id >>> 5]! & (1 << (id & 31))) !== 0
  }

  addAll(ids: Iterable<number>): this {
    for (const id of ids) this.add(id)
    return this
  }

  unionWith(other: ActionSet): this {
    for (let i = 0; i < this.words.length; i++) this.words[i]! |= other.words[i]!
    return this
  }

  intersectWith(other: ActionSet): this {
    for (let i = 0; i < this.words.length; i++) this.words[i]! &= other.words[i]!
    return this
  }

  subtract(other: ActionSet): this {
    for (let i = 0; i < this.words.length; i++) this.words[i]! &= ~other.words[i]!
    return this
  }

  clone(): ActionSet {
    return new ActionSet(this.size, this.words.slice())
  }

  isEmpty(): boolean {
    const words = this.words
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false
    return true
  }

  /** Whether the two sets share an action (no set is built). */
  intersects(other: ActionSet): boolean {
    const a = this.words
    const b = other.words
    for (let i = 0; i < a.length; i++) if ((a[i]! & b[i]!) !== 0) return true
    return false
  }

  /** Ids in ascending order (the catalog's sorted order); at most `limit` of them. */
  ids(limit = Infinity): number[] {
    const ids: number[] = []
    for (let i = 0; i < this.words.length && ids.length < limit; i++) {
      let word = this.words[i]!
      while (word !== 0 && ids.length < limit) {
        ids.push(i * 32 + (31 - Math.clz32(word & -word)))
        word &= word - 1
      }
    }
    return ids
  }

  count(): number {
    let total = 0
    for (let word of this.words) {
      // population count of a 32-bit word
      word -= (word >>> 1) & 0x55555555
      word = (word & 0x33333333) + ((word >>> 2) & 0x33333333)
      total += (((word + (word >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
    }
    return total
  }
}
