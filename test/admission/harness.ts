import { createJudge } from '../../src/admission/judge.js'
import type { ReviewDependencies } from '../../src/admission/review.js'
import type { AdmissionRequest } from '../../src/admission/types.js'
import { StaticBaseRoles } from '../../src/aws/static-base-roles.js'
import type { BaseRoleSource } from '../../src/aws/base-role-source.js'
import type { Config } from '../../src/config/types.js'
import { PolicyEngine } from '../../src/policy/engine.js'
import { testCatalog } from '../support/catalog.js'

export const APP_ROLE = 'arn:aws:iam::111122223333:role/app-data'
export const TARGET_ROLE = 'arn:aws:iam::444455556666:role/cross-account'
export const TAGGED_ROLE = 'arn:aws:iam::111122223333:role/tagged'

export const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements })

export const staticRoles = new StaticBaseRoles({
  [APP_ROLE]: { policies: [policy({ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 'sqs:*'], Resource: '*' })] },
  [TARGET_ROLE]: { policies: [policy({ Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: '*' })] },
  [TAGGED_ROLE]: { policies: [policy({ Sid: 'Ns', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:PrincipalTag/kubernetes-namespace}/*' })] },
})

export type JudgeConfig = Pick<Config, 'annotationPrefix' | 'mode' | 'guardrails'>

export const baseConfig: JudgeConfig = {
  annotationPrefix: 'session-guard.dev',
  mode: 'enforce',
  guardrails: { allowedRoles: [{ namespaces: ['team-*'], roles: ['arn:aws:iam::111122223333:role/*', TARGET_ROLE] }] },
}

export async function reviewDeps(config: JudgeConfig = baseConfig, baseRoles: BaseRoleSource = staticRoles): Promise<ReviewDependencies> {
  const engine = new PolicyEngine(await testCatalog())
  return { config, engine, judge: createJudge({ config, engine, baseRoles }) }
}

export function serviceAccountRequest(annotations: Record<string, string> | undefined, overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'c0ffee00-0000-4000-8000-000000000001',
    kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
    namespace: 'team-a',
    operation: 'CREATE',
    object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'orders', namespace: 'team-a', ...(annotations ? { annotations } : {}) } },
    ...overrides,
  }
}

export const a = (name: string) => `session-guard.dev/${name}`
