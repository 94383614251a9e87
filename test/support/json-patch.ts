/**
 * A strict JSON Patch (RFC 6902) applier for the operations an admission webhook may answer: add,
 * replace and remove. Anything the API server would refuse (a path that does not exist for replace or
 * remove, a parent that is missing, a bad pointer escape, another operation) throws.
 */

export class PatchError extends Error {}

/** RFC 6901: the reference tokens of a JSON Pointer, `~1` → `/` and `~0` → `~`. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw new PatchError(`the path ${JSON.stringify(pointer)} does not start with "/"`)
  return pointer.slice(1).split('/').map((token) => {
    if (/~(?![01])/.test(token)) throw new PatchError(`the path ${JSON.stringify(pointer)} has a "~" that is not ~0 or ~1`)
    return token.replace(/~1/g, '/').replace(/~0/g, '~')
  })
}

type Container = Record<string, unknown> | unknown[]

function isContainer(value: unknown): value is Container {
  return value !== null && typeof value === 'object'
}

function has(container: Container, token: string): boolean {
  return Array.isArray(container) ? /^(0|[1-9]\d*)$/.test(token) && Number(token) < container.length : Object.hasOwn(container, token)
}

function applyOne(document: unknown, operation: unknown): unknown {
  if (!isContainer(operation) || Array.isArray(operation)) throw new PatchError('an operation is not an object')
  const { op, path, value } = operation as { op?: unknown; path?: unknown; value?: unknown }
  if (op !== 'add' && op !== 'replace' && op !== 'remove') throw new PatchError(`unexpected operation ${JSON.stringify(op)}`)
  if (typeof path !== 'string') throw new PatchError('an operation has no string path')
  if (op !== 'remove' && !('value' in operation)) throw new PatchError(`${op} ${path} has no value`)
  const tokens = pointerTokens(path)
  if (tokens.length === 0) {
    if (op === 'remove') throw new PatchError('cannot remove the whole document')
    return structuredClone(value)
  }
  let parent: unknown = document
  for (const token of tokens.slice(0, -1)) {
    if (!isContainer(parent) || !has(parent, token)) throw new PatchError(`${op} ${path}: a parent does not exist`)
    parent = Array.isArray(parent) ? parent[Number(token)] : parent[token]
  }
  if (!isContainer(parent)) throw new PatchError(`${op} ${path}: the parent is not an object or array`)
  const last = tokens[tokens.length - 1] as string
  if (Array.isArray(parent)) {
    const index = last === '-' && op === 'add' ? parent.length : Number(last)
    const limit = op === 'add' ? parent.length : parent.length - 1
    if (!/^(0|[1-9]\d*|-)$/.test(last) || !(index <= limit)) throw new PatchError(`${op} ${path}: no such index`)
    if (op === 'add') parent.splice(index, 0, structuredClone(value))
    else if (op === 'replace') parent[index] = structuredClone(value)
    else parent.splice(index, 1)
    return document
  }
  if (op !== 'add' && !has(parent, last)) throw new PatchError(`${op} ${path}: no such member`)
  if (op === 'remove') delete parent[last]
  else Object.defineProperty(parent, last, { value: structuredClone(value), enumerable: true, writable: true, configurable: true })
  return document
}

/** The document after the patch (the input is not changed). */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new PatchError('the patch is not a JSON array')
  return patch.reduce((result: unknown, operation: unknown) => applyOne(result, operation), structuredClone(document))
}
