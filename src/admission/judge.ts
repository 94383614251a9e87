import type { Config } from '../config/types.js'
import { BaseRoleUnavailableError, type BaseRoleSource } from '../aws/base-role-source.js'
import { parseRoleArn } from '../aws/role-arn.js'
import type { CompiledBaseRole, PolicyEngine } from '../policy/index.js'
import { BasePolicyError } from '../policy/index.js'
import type { Finding } from '../policy/findings.js'
import { annotationNames, isGuarded, unknownAnnotations, type AnnotationNames } from './annotations.js'
import { Guardrails } from './guardrails.js'
import type { DesiredAssociation, Judgment, ServiceAccountRef } from './judgment.js'

export interface JudgeDependencies {
  config: Pick<Config, 'annotationPrefix' | 'mode' | 'guardrails'>
  engine: PolicyEngine
  baseRoles: BaseRoleSource
}

export type Judge = (serviceAccount: ServiceAccountRef) => Promise<Judgment>

/**
 * The judgment of a ServiceAccount as a CREATE: what /validate, `review` and the sync sidecar share.
 * Every violation is collected; none stops the others from being looked for.
 */
export function createJudge({ config, engine, baseRoles }: JudgeDependencies): Judge {
  const names = annotationNames(config.annotationPrefix)
  const guardrails = new Guardrails(config.guardrails.allowedRoles)
  const loadBaseRole = async (roleArn: string): Promise<CompiledBaseRole | Finding> => {
    try {
      return engine.baseRoleFor(await baseRoles.get(roleArn))
    } catch (error) {
      if (!(error instanceof BaseRoleUnavailableError) && !(error instanceof BasePolicyError)) throw error
      return {
        code: 'BASE_ROLE_UNAVAILABLE',
        message: `the base role ${roleArn} cannot be checked, so the session policy is denied (fail closed): ${error instanceof BasePolicyError ? error.message : reasonOf(error)}. Retry, or ask the cluster admins`,
      }
    }
  }

  return async (serviceAccount) => {
    const annotations = serviceAccount.annotations
    if (!isGuarded(annotations, names)) {
      return { guarded: false, allowed: true, violations: [], warnings: [], normalizedPolicy: null }
    }
    const violations: Finding[] = []
    const warnings: Finding[] = unknownAnnotations(annotations, config.annotationPrefix, names).map((key) => ({
      code: 'UNKNOWN_ANNOTATION',
      message: `${key} is not a session-guard annotation and is ignored (known: role-arn, target-role-arn, session-policy, disable-session-tags)`,
    }))

    const roleArn = annotations[names.roleArn]
    const targetRoleArn = annotations[names.targetRoleArn]
    const roles = checkRoles(serviceAccount.namespace, roleArn, targetRoleArn, names, guardrails)
    violations.push(...roles.violations)

    const sessionPolicy = annotations[names.sessionPolicy]
    const tagsDisabled = annotations[names.disableSessionTags] === 'true'
    if (sessionPolicy !== undefined && !tagsDisabled) violations.push(sessionTagsEnabled(names, annotations[names.disableSessionTags]))

    // The session policy narrows the target role when there is one (role chaining).
    const baseArn = roles.usable ? (targetRoleArn ?? roleArn) : undefined
    const needsBase = baseArn !== undefined && (sessionPolicy !== undefined || tagsDisabled)
    const base = needsBase ? await loadBaseRole(baseArn) : undefined
    const baseRole = base && !('code' in base) ? base : undefined
    if (base && 'code' in base) violations.push(base)

    let normalizedPolicy: string | null = null
    if (sessionPolicy !== undefined) {
      const check = engine.check(sessionPolicy, baseRole, { sessionTagsDisabled: tagsDisabled })
      normalizedPolicy = check.normalizedPolicy
      violations.push(...check.violations.map((v) => ({ ...v, message: `${names.sessionPolicy}: ${v.message}` })))
      warnings.push(...check.warnings)
    } else if (baseRole && tagsDisabled) {
      warnings.push(...engine.sessionTagWarnings(baseRole))
    }
    const mismatch = normalizedMismatch(annotations[names.normalizedPolicy], normalizedPolicy, sessionPolicy, names)
    if (mismatch) violations.push(mismatch)

    const judgment: Judgment = {
      guarded: true,
      allowed: violations.length === 0 || config.mode === 'warn',
      violations,
      warnings,
      normalizedPolicy,
    }
    if (violations.length === 0 && roleArn !== undefined) {
      judgment.association = desiredAssociation(serviceAccount, roleArn, targetRoleArn, normalizedPolicy, tagsDisabled)
    }
    return judgment
  }
}

function checkRoles(namespace: string, roleArn: string | undefined, targetRoleArn: string | undefined, names: AnnotationNames, guardrails: Guardrails) {
  const violations: Finding[] = []
  if (roleArn === undefined) {
    violations.push({ code: 'INVALID_ROLE_ARN', message: `${names.roleArn} is required on a guarded ServiceAccount: set it to the IAM role ARN of the association (arn:aws:iam::ACCOUNT:role/NAME)` })
  }
  for (const [name, arn] of [[names.roleArn, roleArn], [names.targetRoleArn, targetRoleArn]] as const) {
    if (arn === undefined) continue
    if (!parseRoleArn(arn)) {
      violations.push({ code: 'INVALID_ROLE_ARN', message: `${name} is ${JSON.stringify(arn)}, which is not an IAM role ARN: write arn:aws:iam::ACCOUNT:role/NAME` })
    } else if (!guardrails.allows(namespace, arn)) {
      violations.push({ code: 'ROLE_NOT_ALLOWED', message: `${name}: namespace ${namespace} may not use ${arn} (guardrails.allowedRoles grants it no such role); pick a role granted to ${namespace} or ask the cluster admins` })
    }
  }
  return { violations, usable: violations.length === 0 }
}

function sessionTagsEnabled(names: AnnotationNames, value: string | undefined): Finding {
  const now = value === undefined ? 'it is not set' : `it is ${JSON.stringify(value)}`
  return {
    code: 'SESSION_TAGS_ENABLED',
    message: `${names.disableSessionTags} must be "true" when ${names.sessionPolicy} is set (${now}): EKS refuses a session policy while session tags are enabled`,
  }
}

function normalizedMismatch(annotated: string | undefined, normalized: string | null, sessionPolicy: string | undefined, names: AnnotationNames): Finding | undefined {
  if (annotated === undefined) return undefined
  if (sessionPolicy === undefined) {
    return { code: 'NORMALIZED_POLICY_MISMATCH', message: `${names.normalizedPolicy} is set but ${names.sessionPolicy} is not: remove ${names.normalizedPolicy} (the mutating webhook writes it)` }
  }
  if (normalized === null || annotated === normalized) return undefined // an invalid policy is INVALID_POLICY already
  return { code: 'NORMALIZED_POLICY_MISMATCH', message: `${names.normalizedPolicy} is not the normalization of ${names.sessionPolicy}: remove it and the mutating webhook writes the right value` }
}

function desiredAssociation(sa: ServiceAccountRef, roleArn: string, targetRoleArn: string | undefined, policy: string | null, disableSessionTags: boolean): DesiredAssociation {
  const association: DesiredAssociation = { namespace: sa.namespace, serviceAccount: sa.name, roleArn, disableSessionTags }
  if (targetRoleArn !== undefined) association.targetRoleArn = targetRoleArn
  if (policy !== null) association.policy = policy
  return association
}

function reasonOf(error: BaseRoleUnavailableError): string {
  const prefix = `the policies of ${error.roleArn} cannot be read: `
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message
}
