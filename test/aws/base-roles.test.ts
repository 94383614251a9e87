import t from 'tap'
import { CreateRoleCommand } from '@aws-sdk/client-iam'
import { BaseRoleCache } from '../../src/aws/base-role-cache.js'
import { baseRoleSourceFor } from '../../src/aws/base-roles.js'
import { StaticBaseRoles } from '../../src/aws/static-base-roles.js'
import type { Config } from '../../src/config/types.js'
import { iamClientFor, startMoto } from '../support/moto.js'

const roleArn = 'arn:aws:iam::123456789012:role/app'
const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }

function config(source: 'iam' | 'static', endpoint?: string): Pick<Config, 'region' | 'baseRoles'> {
  return {
    region: 'us-east-1',
    baseRoles: {
      source,
      static: { [roleArn]: { policies: [policy] } },
      iam: { cacheTtlSeconds: 60, maxStaleSeconds: 30, maxRoles: 10, lookupTimeoutSeconds: 3, ...(endpoint ? { endpoint } : {}) },
    },
  }
}

t.test('static: the roles written in the config', async (t) => {
  const source = await baseRoleSourceFor(config('static'))
  t.type(source, StaticBaseRoles, 'a static source')
  t.strictSame(await source.get(roleArn), { roleArn, policies: [JSON.stringify(policy)] }, 'reads the config')
})

t.test('iam: IAM at the configured endpoint, behind the cache', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  await iamClientFor(moto.endpoint).send(new CreateRoleCommand({ RoleName: 'app', AssumeRolePolicyDocument: '{}' }))
  const saved = { ...process.env }
  t.teardown(() => {
    process.env = saved
  })
  // The SDK chain: credentials from the environment, as Pod Identity provides them in the cluster.
  process.env.AWS_ACCESS_KEY_ID = 'testing'
  process.env.AWS_SECRET_ACCESS_KEY = 'testing'
  const events: string[] = []
  const source = await baseRoleSourceFor(config('iam', moto.endpoint), {
    hooks: { onHit: () => events.push('hit'), onMiss: () => events.push('miss') },
    now: () => 0,
  })
  t.type(source, BaseRoleCache, 'a cache')
  t.strictSame(await source.get(roleArn), { roleArn, policies: [] }, 'reads moto')
  await source.get(roleArn)
  t.same(events, ['miss', 'hit'], 'the hooks reach the cache')
})
