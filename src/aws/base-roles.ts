import type { IAMClient } from '@aws-sdk/client-iam'
import type { Config } from '../config/types.js'
import { BaseRoleCache, type BaseRoleCacheHooks } from './base-role-cache.js'
import type { BaseRoleSource } from './base-role-source.js'
import { IamBaseRoles } from './iam-base-roles.js'
import { createIamClient } from './iam-client.js'
import { StaticBaseRoles } from './static-base-roles.js'

export interface BaseRoleSourceOptions {
  /** Metrics for the IAM cache (static roles need none). */
  hooks?: BaseRoleCacheHooks
  /** An IAM client to use instead of one from the SDK chain. */
  iam?: IAMClient
  /** The cache's clock, in milliseconds. */
  now?: () => number
}

/** The base-role source the config asks for: `baseRoles.static`, or IAM behind the cache. */
export function baseRoleSourceFor(config: Pick<Config, 'region' | 'baseRoles'>, options: BaseRoleSourceOptions = {}): BaseRoleSource {
  const { baseRoles } = config
  if (baseRoles.source === 'static') return new StaticBaseRoles(baseRoles.static)
  const iam = options.iam ?? createIamClient({ region: config.region, endpoint: baseRoles.iam.endpoint })
  const cacheOptions = { ...(options.hooks ? { hooks: options.hooks } : {}), ...(options.now ? { now: options.now } : {}) }
  return new BaseRoleCache(new IamBaseRoles(iam, { timeoutMs: baseRoles.iam.lookupTimeoutSeconds * 1000 }), baseRoles.iam, cacheOptions)
}
