import t from 'tap'
import { lineAndColumn, readJson } from '../../src/policy/json-text.js'

t.test('reads valid JSON as JSON.parse does', async (t) => {
  const text = '{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"], "b": {}}'
  t.same(readJson(text), { ok: true, value: JSON.parse(text) })
})

t.test('locates a syntax error by line and column', async (t) => {
  t.same(readJson('{\n  "Effect": "Allow",\n  "Action" "s3:GetObject"\n}'), {
    ok: false,
    problem: { message: 'expected ":" after the key "Action" but found "\\""', line: 3, column: 12 },
  })
})

t.test('rejects a trailing comma with its position', async (t) => {
  t.same(readJson('{"a": [1, 2,]}'), {
    ok: false,
    problem: { message: 'a trailing comma is not allowed before "]"', line: 1, column: 13 },
  })
})

t.test('rejects a key that appears twice, naming the object', async (t) => {
  t.same(readJson('{"Statement": [{"Effect": "Allow", "Effect": "Deny"}]}'), {
    ok: false,
    problem: { message: 'the key "Effect" appears twice in $.Statement[0]', line: 1, column: 36, path: '$.Statement[0]' },
  })
})

t.test('rejects an empty document, text after the end and unclosed strings', async (t) => {
  t.same(readJson('   '), { ok: false, problem: { message: 'the document is empty', line: 1, column: 4 } })
  t.same(readJson('{} x'), { ok: false, problem: { message: 'unexpected "x" after the end of the document', line: 1, column: 4 } })
  t.same(readJson('{"a": "b'), { ok: false, problem: { message: 'a string is not closed', line: 1, column: 7 } })
  t.same(readJson("{'a': 1}"), { ok: false, problem: { message: 'expected a key in double quotes but found "\'"', line: 1, column: 2 } })
})

t.test('a key named __proto__ is kept as data', async (t) => {
  const read = readJson('{"__proto__": {"x": 1}}')
  t.ok(read.ok, 'reads')
  if (read.ok) t.same(Object.keys(read.value as object), ['__proto__'], 'own key, not a prototype change')
})

t.test('counts lines from 1 and columns from 1', async (t) => {
  t.same(lineAndColumn('ab\ncd', 4), { line: 2, column: 2 })
})

t.test('refuses nesting deeper than 64 levels instead of overflowing the stack', async (t) => {
  t.ok(readJson(`${'['.repeat(64)}${']'.repeat(64)}`).ok, '64 levels read')
  const message = 'arrays and objects are nested more than 64 levels deep (a policy needs 6 at most)'
  t.same(readJson(`${'['.repeat(65)}${']'.repeat(65)}`), { ok: false, problem: { message, line: 1, column: 65 } }, '65 levels refused')
  t.same(readJson(`{"a":${'[{"b":'.repeat(50_000)}`), { ok: false, problem: { message, line: 1, column: 5 + 6 * 31 + 2 } }, '100,000 levels refused where the limit is crossed')
})
