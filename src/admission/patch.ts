import type { JsonPatchOperation } from './types.js'

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

/**
 * The JSON Patch that turns `original` annotations into `desired` ones: the patch is computed by
 * diffing, so it is correct whether `metadata.annotations` exists or not, and empty when nothing
 * changes.
 */
export function annotationPatch(
  original: Record<string, string> | null | undefined,
  desired: Record<string, string>,
): JsonPatchOperation[] {
  if (!original) {
    return Object.keys(desired).length === 0 ? [] : [{ op: 'add', path: '/metadata/annotations', value: desired }]
  }
  const operations: JsonPatchOperation[] = []
  for (const key of Object.keys(original)) {
    if (!(key in desired)) operations.push({ op: 'remove', path: `/metadata/annotations/${escapePointer(key)}` })
  }
  for (const [key, value] of Object.entries(desired)) {
    if (!(key in original)) operations.push({ op: 'add', path: `/metadata/annotations/${escapePointer(key)}`, value })
    else if (original[key] !== value) operations.push({ op: 'replace', path: `/metadata/annotations/${escapePointer(key)}`, value })
  }
  return operations
}
