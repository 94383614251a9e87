import type { IAMClient } from '@aws-sdk/client-iam'
import type { Config } from '../config/types.js'
import type { BaseRoleCacheHooks } from './base-role-cache.js'
import type { BaseRoleSource } from './base-role-source.js'
import { StaticBaseRoles } from './static-base-roles.js'

export interface BaseRoleSourceOptions {
  /** Metrics for the IAM cache (static roles need none). */
  hooks?: BaseRoleCacheHooks
  /** An IAM client to use instead of one from the SDK chain. */
  iam?: IAMClient
  /** The cache's clock, in milliseconds. */
  now?: () => number
}

/**
 * The base-role source the config asks for: `baseRoles.static`, or IAM behind the cache. The AWS SDK
 * is only loaded for IAM: a static setup starts faster without it.
 */
export async function baseRoleSourceFor(config: Pick<Config, 'region' | 'baseRoles'>, options: BaseRoleSourceOptions = {}): Promise<BaseRoleSource> {
  const { baseRoles } = config
  if (baseRoles.source === 'static') return new StaticBaseRoles(baseRoles.static)
  const [{ BaseRoleCache }, { IamBaseRoles }, { createIamClient }] = await Promise.all([
    import('./base-role-cache.js'), import('./iam-base-roles.js'), import('./iam-client.js'),
  ])
  const iam = options.iam ?? createIamClient({ region: config.region, endpoint: baseRoles.iam.endpoint })
  const cacheOptions = { ...(options.hooks ? { hooks: options.hooks } : {}), ...(options.now ? { now: options.now } : {}) }
  return new BaseRoleCache(new IamBaseRoles(iam, { timeoutMs: baseRoles.iam.lookupTimeoutSeconds * 1000 }), baseRoles.iam, cacheOptions)
}
