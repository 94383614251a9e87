import { parseAllDocuments } from 'yaml'
import type { ServiceAccountRef } from '../admission/judgment.js'
import { UnreadableInputError } from '../io/files.js'

/**
 * The ServiceAccounts in one manifest file: every document of a multi-document YAML file (or the one
 * JSON value of a .json file), `items` of List kinds opened. Other objects are ignored. A file that
 * does not parse, or a ServiceAccount the API server would refuse for its shape, is an input error.
 */
export function serviceAccountsIn(text: string, file: string): ServiceAccountRef[] {
  const serviceAccounts: ServiceAccountRef[] = []
  const documents = documentsOf(text, file)
  for (const [index, document] of documents.entries()) {
    collect(document, documents.length === 1 ? file : `${file} (document ${index + 1})`, serviceAccounts)
  }
  return serviceAccounts
}

function documentsOf(text: string, file: string): unknown[] {
  if (/\.json$/i.test(file)) {
    try {
      return [JSON.parse(text)]
    } catch (error) {
      throw new UnreadableInputError(`${file} is not valid JSON: ${(error as Error).message}`)
    }
  }
  const documents = parseAllDocuments(text)
  if (!Array.isArray(documents)) return [] // an empty stream: nothing but comments
  return documents.map((document) => {
    const [error] = document.errors
    if (error) throw new UnreadableInputError(`${file} is not valid YAML: ${error.message.split('\n')[0]?.replace(/:$/, '')}`)
    return document.toJS() as unknown
  })
}

function collect(value: unknown, where: string, into: ServiceAccountRef[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collect(item, where, into)
    return
  }
  if (!isObject(value)) return
  if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    collect(value.items, where, into)
  } else if (value.kind === 'ServiceAccount' && (value.apiVersion === undefined || value.apiVersion === 'v1')) {
    into.push(serviceAccountOf(value, where))
  }
}

/** Namespace and name as the API server would set them on a CREATE: an unset namespace is "default". */
function serviceAccountOf(object: Record<string, unknown>, where: string): ServiceAccountRef {
  const metadata = isObject(object.metadata) ? object.metadata : {}
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default'
  const name = typeof metadata.name === 'string' && metadata.name !== ''
    ? metadata.name
    : `${typeof metadata.generateName === 'string' ? metadata.generateName : ''}*`
  return { namespace, name, annotations: annotationsOf(metadata.annotations, `${where}: ServiceAccount ${namespace}/${name}`) }
}

function annotationsOf(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (!isObject(value)) throw new UnreadableInputError(`${what}: metadata.annotations must be a map of strings`)
  const annotations: Record<string, string> = {}
  for (const [key, annotation] of Object.entries(value)) {
    // kubectl refuses `disable-session-tags: true` unquoted (a boolean); say so rather than guess.
    if (typeof annotation !== 'string') {
      throw new UnreadableInputError(`${what}: annotation ${key} must be a string, not ${describe(annotation)} (quote it in YAML)`)
    }
    annotations[key] = annotation
  }
  return annotations
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'a map' : `the ${typeof value} ${String(value)}`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
