// Every value is documented three times over: a `# --` comment in values.yaml, a row in the chart
// README, and a property in values.schema.json.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { isMap, parseDocument, type YAMLMap } from 'yaml'
import { chartDir } from '../support/helm.js'

interface DocumentedValue {
  path: string
  description: string
}

// The description is the last comment paragraph that starts with `--` above a key (helm-docs style).
function descriptionOf(comment: string | null | undefined): string | undefined {
  const lines = (comment ?? '').split('\n')
  const start = lines.findLastIndex((line) => /^\s*--\s/.test(line))
  if (start < 0) return undefined
  return lines
    .slice(start)
    .map((line) => line.trim())
    .join(' ')
    .replace(/^--\s*/, '')
}

// A documented key covers everything under it (resources, securityContext, …).
function documentedValues(map: YAMLMap, path: string[], found: DocumentedValue[], undocumented: string[]): void {
  map.items.forEach((pair, index) => {
    const key = String((pair.key as { value: unknown }).value)
    const keyPath = [...path, key]
    const comment = (pair.key as { commentBefore?: string }).commentBefore ?? (index === 0 ? map.commentBefore : undefined)
    const description = descriptionOf(comment)
    if (description !== undefined) found.push({ path: keyPath.join('.'), description })
    else if (isMap(pair.value) && pair.value.items.length > 0) documentedValues(pair.value, keyPath, found, undocumented)
    else undocumented.push(keyPath.join('.'))
  })
}

async function valuesDocumentation(): Promise<{ found: DocumentedValue[]; undocumented: string[] }> {
  const document = parseDocument(await readFile(`${chartDir}/values.yaml`, 'utf8'))
  const found: DocumentedValue[] = []
  const undocumented: string[] = []
  if (!isMap(document.contents)) throw new Error('values.yaml is not a map')
  documentedValues(document.contents, [], found, undocumented)
  return { found, undocumented }
}

t.test('every key in values.yaml has a `# --` description', async (t) => {
  const { found, undocumented } = await valuesDocumentation()
  t.same(undocumented, [], 'no key without a description')
  t.ok(found.length >= 70, `${found.length} documented values`)
  for (const value of found) t.ok(value.description.length >= 10, `${value.path} says what it is`)
})

t.test('the chart README lists every documented value', async (t) => {
  const readme = await readFile(`${chartDir}/README.md`, 'utf8')
  const valuesSection = readme.slice(readme.indexOf('\n## Values\n'))
  const rows = new Set([...valuesSection.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]))
  const { found } = await valuesDocumentation()
  t.same(
    found.map((value) => value.path).filter((path) => !rows.has(path)),
    [],
    'no value missing from README.md',
  )
  const known = new Set(found.map((value) => value.path))
  t.same(
    [...rows].filter((path) => path !== undefined && !known.has(path)),
    [],
    'no README row for a value that does not exist',
  )
})

interface Schema {
  properties?: Record<string, Schema>
  additionalProperties?: boolean | Schema
}

t.test('values.schema.json closes every map it describes and covers every value', async (t) => {
  const schema = JSON.parse(await readFile(`${chartDir}/values.schema.json`, 'utf8')) as Schema
  const { found } = await valuesDocumentation()
  for (const { path } of found) {
    let node: Schema | undefined = schema
    for (const key of path.split('.')) {
      t.equal(node?.additionalProperties, false, `${path}: the map holding ${key} rejects unknown keys`)
      node = node?.properties?.[key]
    }
    t.ok(node, `${path} is in the schema`)
  }
})
