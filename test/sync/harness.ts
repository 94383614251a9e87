/**
 * Shared pieces of the sync tests: a config, a judge built from plain data, ServiceAccounts. (No tests
 * here; tap lists this file as "no tests found".)
 */
import type { Judgment, ServiceAccountRef } from '../../src/admission/judgment.js'
import type { Config } from '../../src/config/types.js'
import type { SyncTarget } from '../../src/sync/status.js'

export const prefix = 'session-guard.dev'
export const readerRole = 'arn:aws:iam::111122223333:role/shared-reader'
export const writerRole = 'arn:aws:iam::111122223333:role/shared-writer'
export const targetRole = 'arn:aws:iam::444455556666:role/cross-account'

export function policyFor(bucket: string): string {
  return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${bucket}/*"}]}`
}

export function testConfig(sync: Partial<Config['sync']> = {}, clusterName = 'test-cluster'): Config {
  return {
    annotationPrefix: prefix,
    mode: 'enforce',
    clusterName,
    region: 'us-east-1',
    baseRoles: { source: 'static', static: {}, iam: { cacheTtlSeconds: 300, maxStaleSeconds: 3600, maxRoles: 100, lookupTimeoutSeconds: 3 } },
    guardrails: {},
    webhook: { port: 8443, metricsPort: 0, bodyLimitBytes: 1_048_576 },
    sync: {
      namespaces: [],
      resyncSeconds: 300,
      concurrency: 16,
      adoptExisting: false,
      restartWorkloads: false,
      lease: { name: 'session-guard-sync', namespace: 'session-guard', durationSeconds: 15, renewSeconds: 5 },
      port: 0,
      installationId: 'test-install',
      ...sync,
    },
  }
}

/** A guarded ServiceAccount as the mutating webhook leaves it. */
export function guardedAccount(
  namespace: string,
  name: string,
  options: { role?: string; target?: string; bucket?: string | null; extra?: Record<string, string> } = {},
): SyncTarget {
  const annotations: Record<string, string> = { [`${prefix}/role-arn`]: options.role ?? readerRole }
  if (options.target) annotations[`${prefix}/target-role-arn`] = options.target
  const bucket = options.bucket === undefined ? name : options.bucket
  if (bucket !== null) {
    annotations[`${prefix}/session-policy`] = policyFor(bucket)
    annotations[`${prefix}/normalized-policy`] = policyFor(bucket)
    annotations[`${prefix}/disable-session-tags`] = 'true'
  }
  return { namespace, name, annotations: { ...annotations, ...options.extra } }
}

/**
 * The judgment, from the annotations alone: guarded when any input annotation is there; rejected
 * (INVALID_ROLE_ARN) when the role annotation does not look like a role ARN.
 */
export async function judgeFromAnnotations(serviceAccount: ServiceAccountRef): Promise<Judgment> {
  const read = (key: string): string | undefined => serviceAccount.annotations[`${prefix}/${key}`]
  const inputs = ['role-arn', 'target-role-arn', 'session-policy', 'disable-session-tags']
  const guarded = inputs.some((key) => read(key) !== undefined)
  const roleArn = read('role-arn') ?? ''
  const normalizedPolicy = read('normalized-policy') ?? null
  if (!guarded) return { guarded, allowed: true, violations: [], warnings: [], normalizedPolicy: null }
  if (!roleArn.startsWith('arn:aws:iam::')) {
    const violations = [{ code: 'INVALID_ROLE_ARN', message: `${prefix}/role-arn is not an IAM role ARN: "${roleArn}".` }]
    return { guarded, allowed: false, violations, warnings: [], normalizedPolicy }
  }
  const targetRoleArn = read('target-role-arn')
  return {
    guarded,
    allowed: true,
    violations: [],
    warnings: [],
    normalizedPolicy,
    association: {
      namespace: serviceAccount.namespace,
      serviceAccount: serviceAccount.name,
      roleArn,
      ...(targetRoleArn ? { targetRoleArn } : {}),
      ...(normalizedPolicy ? { policy: normalizedPolicy } : {}),
      disableSessionTags: read('disable-session-tags') === 'true',
    },
  }
}

export function ownTags(installationId = 'test-install', clusterName = 'test-cluster'): Record<string, string> {
  return { [`${prefix}/installation`]: installationId, [`${prefix}/cluster`]: clusterName }
}

/** Each association as one line (the policy shown by its bucket), sorted. */
export function stateOf(
  associations: Array<{ namespace: string; serviceAccount: string; roleArn: string; targetRoleArn?: string; policy?: string; disableSessionTags: boolean; tags: Record<string, string> }>,
): string[] {
  return associations
    .map((a) => {
      const owned = a.tags[`${prefix}/installation`] ? `owner=${a.tags[`${prefix}/installation`]}` : 'unowned'
      return `${a.namespace}/${a.serviceAccount} role=${a.roleArn.split('/').pop()} target=${a.targetRoleArn?.split('/').pop() ?? '-'} policy=${a.policy ? (/s3:::([^/]+)/.exec(a.policy)?.[1] ?? '?') : '-'} noTags=${a.disableSessionTags} ${owned}`
    })
    .sort()
}
