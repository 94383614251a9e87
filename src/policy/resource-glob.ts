/**
 * Relations between two ARN patterns with `*` and `?` wildcards (IAM resource matching is
 * case-sensitive). A policy variable such as `${aws:username}` can take any value, so it counts as `*`.
 */

const VARIABLE = /\$\{[^}]*\}/g

function prepare(pattern: string): string {
  return pattern.replace(VARIABLE, '*')
}

/** Whether some ARN matches both patterns. */
export function globsIntersect(a: string, b: string): boolean {
  return solve(prepare(a), prepare(b), (x, y) => x === y || x === '?' || y === '?', true)
}

/** Whether every ARN the `inner` pattern matches is matched by `outer` as well. */
export function globIncludes(outer: string, inner: string): boolean {
  return solve(prepare(outer), prepare(inner), (o, i) => o === '?' || (o === i && i !== '?'), false)
}

/**
 * Dynamic programming over positions (i in a, j in b). In intersection mode both sides' stars may
 * absorb characters of the other; in inclusion mode only `a` (the outer pattern) may, and an inner
 * star must be met by an outer star.
 */
function solve(a: string, b: string, charsMeet: (x: string, y: string) => boolean, symmetric: boolean): boolean {
  if (a === '*') return true
  const width = b.length + 1
  const memo = new Uint8Array((a.length + 1) * width) // 0 unknown, 1 false, 2 true
  const visit = (i: number, j: number): boolean => {
    const slot = i * width + j
    if (memo[slot] !== 0) return memo[slot] === 2
    let result: boolean
    if (i === a.length && j === b.length) result = true
    else if (i < a.length && a[i] === '*') {
      // outer star: matches nothing more, or absorbs one more character (or star) of b
      result = visit(i + 1, j) || (j < b.length && visit(i, j + 1))
    } else if (j < b.length && b[j] === '*') {
      result = symmetric ? visit(i, j + 1) || (i < a.length && visit(i + 1, j)) : false
    } else if (i < a.length && j < b.length) {
      result = charsMeet(a[i] as string, b[j] as string) && visit(i + 1, j + 1)
    } else result = false
    memo[slot] = result ? 2 : 1
    return result
  }
  return visit(0, 0)
}
