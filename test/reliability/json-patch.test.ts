/** The fuzz's JSON Patch applier (test/support/json-patch.ts) must be as strict as the API server. */
import t from 'tap'
import { applyJsonPatch, pointerTokens } from '../support/json-patch.js'

const object = { metadata: { name: 'sa', annotations: { 'a/b': '1', '~x': '2' } } }

t.test('applies add, replace and remove with RFC 6901 escapes, leaving the input alone', async (t) => {
  const patched = applyJsonPatch(object, [
    { op: 'add', path: '/metadata/annotations/session-guard.dev~1normalized-policy', value: '{}' },
    { op: 'replace', path: '/metadata/annotations/a~1b', value: '3' },
    { op: 'remove', path: '/metadata/annotations/~0x' },
  ])
  t.same(patched, { metadata: { name: 'sa', annotations: { 'a/b': '3', 'session-guard.dev/normalized-policy': '{}' } } })
  t.same(object.metadata.annotations, { 'a/b': '1', '~x': '2' }, 'the input is unchanged')
  t.same(applyJsonPatch({ metadata: {} }, [{ op: 'add', path: '/metadata/annotations', value: { k: 'v' } }]), { metadata: { annotations: { k: 'v' } } })
  t.same(pointerTokens('/a~01/~10'), ['a~1', '/0'], '~01 is "~1", not "/"')
})

t.test('refuses what the API server would refuse', async (t) => {
  const refused: Array<[string, unknown, RegExp]> = [
    ['not an array', { op: 'add' }, /not a JSON array/],
    ['replace of a missing key', [{ op: 'replace', path: '/metadata/annotations/nope', value: 'x' }], /no such member/],
    ['remove of a missing key', [{ op: 'remove', path: '/metadata/annotations/nope' }], /no such member/],
    ['a missing parent', [{ op: 'add', path: '/metadata/labels/x', value: 'y' }], /parent does not exist/],
    ['a bad escape', [{ op: 'remove', path: '/metadata/annotations/~2' }], /not ~0 or ~1/],
    ['a path without a slash', [{ op: 'add', path: 'metadata', value: 1 }], /does not start with/],
    ['another operation', [{ op: 'move', from: '/metadata/name', path: '/metadata/x' }], /unexpected operation/],
    ['an add without a value', [{ op: 'add', path: '/metadata/x' }], /has no value/],
  ]
  for (const [what, patch, message] of refused) t.throws(() => applyJsonPatch(object, patch), message, what)
})
