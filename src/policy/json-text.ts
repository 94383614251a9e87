/**
 * A strict JSON reader for policy documents. JSON.parse would accept a document with a duplicated key
 * (keeping the last value silently) and reports errors without a line and column; a policy author
 * needs both, so session policies are read here.
 */

export interface JsonProblem {
  message: string
  line: number
  column: number
  /** JSON path of the object holding a duplicated key, e.g. `$.Statement[0]`. */
  path?: string
}

export type JsonReadResult = { ok: true; value: unknown } | { ok: false; problem: JsonProblem }

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly path?: string,
  ) {
    super(message)
  }
}

export function readJson(text: string): JsonReadResult {
  try {
    const reader = new Reader(text)
    const value = reader.document()
    return { ok: true, value }
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error
    const { line, column } = lineAndColumn(text, error.offset)
    const problem: JsonProblem = { message: error.message, line, column }
    if (error.path !== undefined) problem.path = error.path
    return { ok: false, problem }
  }
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

// RFC 8259 §9 lets a reader limit nesting. A policy nests 6 levels at most (Statement, statement,
// Condition, operator, key, values); without a limit a deeply nested text overflows the call stack.
export const MAX_NESTING = 64

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

class Reader {
  private pos = 0
  private depth = 0
  constructor(private readonly text: string) {}

  document(): unknown {
    this.skipSpace()
    if (this.pos >= this.text.length) this.fail('the document is empty')
    const value = this.value('$')
    this.skipSpace()
    if (this.pos < this.text.length) this.fail(`unexpected ${this.describeHere()} after the end of the document`)
    return value
  }

  private value(path: string): unknown {
    const c = this.text[this.pos]
    if (c === '{' || c === '[') {
      if (this.depth >= MAX_NESTING) this.fail(`arrays and objects are nested more than ${MAX_NESTING} levels deep (a policy needs 6 at most)`)
      this.depth++
      const value = c === '{' ? this.object(path) : this.array(path)
      this.depth--
      return value
    }
    if (c === '"') return this.string()
    if (c === 't') return this.literal('true', true)
    if (c === 'f') return this.literal('false', false)
    if (c === 'n') return this.literal('null', null)
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number()
    return this.fail(`expected a value but found ${this.describeHere()}`)
  }

  private object(path: string): Record<string, unknown> {
    const result: Record<string, unknown> = {}
    const seen = new Set<string>()
    this.pos++
    this.skipSpace()
    if (this.text[this.pos] === '}') {
      this.pos++
      return result
    }
    for (;;) {
      this.skipSpace()
      if (this.text[this.pos] !== '"') this.fail(`expected a key in double quotes but found ${this.describeHere()}`)
      const keyOffset = this.pos
      const key = this.string()
      if (seen.has(key)) throw new JsonSyntaxError(`the key "${key}" appears twice in ${path}`, keyOffset, path)
      seen.add(key)
      this.skipSpace()
      if (this.text[this.pos] !== ':') this.fail(`expected ":" after the key "${key}" but found ${this.describeHere()}`)
      this.pos++
      this.skipSpace()
      Object.defineProperty(result, key, {
        value: this.value(childPath(path, key)),
        enumerable: true,
        writable: true,
        configurable: true,
      })
      this.skipSpace()
      const c = this.text[this.pos]
      if (c === ',') {
        this.pos++
        this.skipSpace()
        if (this.text[this.pos] === '}') this.fail('a trailing comma is not allowed before "}"')
        continue
      }
      if (c === '}') {
        this.pos++
        return result
      }
      this.fail(`expected "," or "}" but found ${this.describeHere()}`)
    }
  }

  private array(path: string): unknown[] {
    const result: unknown[] = []
    this.pos++
    this.skipSpace()
    if (this.text[this.pos] === ']') {
      this.pos++
      return result
    }
    for (;;) {
      this.skipSpace()
      result.push(this.value(`${path}[${result.length}]`))
      this.skipSpace()
      const c = this.text[this.pos]
      if (c === ',') {
        this.pos++
        this.skipSpace()
        if (this.text[this.pos] === ']') this.fail('a trailing comma is not allowed before "]"')
        continue
      }
      if (c === ']') {
        this.pos++
        return result
      }
      this.fail(`expected "," or "]" but found ${this.describeHere()}`)
    }
  }

  private string(): string {
    const start = this.pos
    this.pos++
    let out = ''
    let chunkStart = this.pos
    for (;;) {
      if (this.pos >= this.text.length) throw new JsonSyntaxError('a string is not closed', start)
      const code = this.text.charCodeAt(this.pos)
      if (code === 34) {
        out += this.text.slice(chunkStart, this.pos)
        this.pos++
        return out
      }
      if (code < 0x20) this.fail('a control character must be escaped inside a string')
      if (code === 92) {
        out += this.text.slice(chunkStart, this.pos)
        out += this.escape()
        chunkStart = this.pos
        continue
      }
      this.pos++
    }
  }

  private escape(): string {
    const c = this.text[this.pos + 1]
    if (c === 'u') {
      const hex = this.text.slice(this.pos + 2, this.pos + 6)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('"\\u" must be followed by four hexadecimal digits')
      this.pos += 6
      return String.fromCharCode(parseInt(hex, 16))
    }
    const replacement = c === undefined ? undefined : ESCAPES[c]
    if (replacement === undefined) this.fail(`"\\${c ?? ''}" is not a valid escape`)
    this.pos += 2
    return replacement as string
  }

  private number(): number {
    NUMBER.lastIndex = this.pos
    const match = NUMBER.exec(this.text)
    if (!match) return this.fail(`expected a number but found ${this.describeHere()}`)
    this.pos += match[0].length
    return Number(match[0])
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected a value but found ${this.describeHere()}`)
    this.pos += word.length
    return value
  }

  private skipSpace(): void {
    for (;;) {
      const code = this.text.charCodeAt(this.pos)
      if (code === 32 || code === 10 || code === 13 || code === 9) this.pos++
      else return
    }
  }

  private describeHere(): string {
    if (this.pos >= this.text.length) return 'the end of the document'
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos, this.pos + 20))
    return word ? `"${word[0]}"` : JSON.stringify(this.text[this.pos])
  }

  private fail(message: string): never {
    throw new JsonSyntaxError(message, this.pos)
  }
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}
