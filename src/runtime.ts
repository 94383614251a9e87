import type { BaseRoleCacheHooks } from './aws/base-role-cache.js'
import { baseRoleSourceFor } from './aws/base-roles.js'
import type { BaseRoleSource } from './aws/base-role-source.js'
import { createJudge, type Judge } from './admission/judge.js'
import { loadActionCatalog } from './catalog/load.js'
import type { Config } from './config/types.js'
import { PolicyEngine } from './policy/index.js'

/** What the webhook, `review` and the sync sidecar share: the engine, the base roles and the judge. */
export interface Runtime {
  config: Config
  engine: PolicyEngine
  baseRoles: BaseRoleSource
  judge: Judge
}

export async function createRuntime(config: Config, options: { cacheHooks?: BaseRoleCacheHooks } = {}): Promise<Runtime> {
  const engine = new PolicyEngine(await loadActionCatalog())
  const baseRoles = await baseRoleSourceFor(config, options.cacheHooks ? { hooks: options.cacheHooks } : {})
  // Compile what is known now, so that the first review is as fast as the next ones.
  engine.normalize('{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}')
  for (const roleArn of Object.keys(config.baseRoles.source === 'static' ? config.baseRoles.static : {})) {
    engine.baseRoleFor(await baseRoles.get(roleArn))
  }
  return { config, engine, baseRoles, judge: createJudge({ config, engine, baseRoles }) }
}
