import { loadActionCatalog } from '../../src/catalog/load.js'
import type { ActionCatalog } from '../../src/policy/catalog.js'

let catalog: Promise<ActionCatalog> | undefined

/** The real IAM action catalog, loaded once per test process. */
export function testCatalog(): Promise<ActionCatalog> {
  catalog ??= loadActionCatalog()
  return catalog
}

/** Every catalog action name, for computing expectations independently of the engine's index. */
export async function allActionNames(): Promise<string[]> {
  const c = await testCatalog()
  return Array.from({ length: c.size }, (_, id) => c.name(id))
}
