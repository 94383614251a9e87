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
 * Dynamic programming over positions (i in a, j in b), filled from the ends backwards one row of `a`
 * at a time: no recursion, so a resource of any length cannot overflow the stack. In intersection
 * mode both sides' stars may absorb characters of the other; in inclusion mode only `a` (the outer
 * pattern) may, and an inner star must be met by an outer star.
 */
function solve(a: string, b: string, charsMeet: (x: string, y: string) => boolean, symmetric: boolean): boolean {
  if (a === '*') return true
  let below = new Uint8Array(b.length + 1) // results at i + 1 (1 true, 0 false)
  let row = new Uint8Array(b.length + 1) // results at i
  for (let i = a.length; i >= 0; i--) {
    for (let j = b.length; j >= 0; j--) {
      let result: boolean
      if (i === a.length && j === b.length) result = true
      else if (i < a.length && a[i] === '*') {
        // outer star: matches nothing more, or absorbs one more character (or star) of b
        result = below[j] === 1 || (j < b.length && row[j + 1] === 1)
      } else if (j < b.length && b[j] === '*') {
        result = symmetric ? row[j + 1] === 1 || (i < a.length && below[j] === 1) : false
      } else if (i < a.length && j < b.length) {
        result = charsMeet(a[i] as string, b[j] as string) && below[j + 1] === 1
      } else result = false
      row[j] = result ? 1 : 0
    }
    ;[below, row] = [row, below]
  }
  return below[0] === 1
}
