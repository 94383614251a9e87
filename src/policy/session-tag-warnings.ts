import type { CompiledBaseRole } from './base-role.js'
import type { Finding } from './findings.js'

/** The session tags EKS Pod Identity sets, gone once `disableSessionTags` is true. */
export const EKS_SESSION_TAGS = [
  'eks-cluster-arn',
  'eks-cluster-name',
  'kubernetes-namespace',
  'kubernetes-service-account',
  'kubernetes-pod-name',
  'kubernetes-pod-uid',
]

const REFERENCE = new RegExp(`aws:(PrincipalTag|RequestTag)/(${EKS_SESSION_TAGS.join('|')})\\b`, 'gi')

/**
 * SESSION_TAG_CONDITION_DISABLED warnings: base-role statements that mention an EKS session tag (in a
 * condition key, a condition value or a resource's policy variable), which stop matching once
 * session tags are disabled.
 */
export function sessionTagWarnings(baseRole: CompiledBaseRole): Finding[] {
  let findings = computed.get(baseRole)
  if (!findings) {
    findings = findSessionTagStatements(baseRole)
    computed.set(baseRole, findings)
  }
  return findings.map((f) => ({ ...f }))
}

/** Base roles are compiled once and checked many times: the scan is done once per compiled role. */
const computed = new WeakMap<CompiledBaseRole, Finding[]>()

function findSessionTagStatements(baseRole: CompiledBaseRole): Finding[] {
  const findings: Finding[] = []
  for (const statement of baseRole.statements) {
    const tags = referencedTags(JSON.stringify(statement.source))
    if (tags.length === 0) continue
    findings.push({
      code: 'SESSION_TAG_CONDITION_DISABLED',
      message:
        `base role ${statement.label} uses ${tags.join(', ')}: EKS does not set ` +
        `${tags.length === 1 ? 'that tag' : 'those tags'} with session tags disabled, so the statement stops matching`,
      details: { statement: statement.label, tags },
    })
  }
  return findings
}

function referencedTags(text: string): string[] {
  const tags = new Set<string>()
  for (const match of text.matchAll(REFERENCE)) tags.add(`aws:${match[1]}/${match[2]}`)
  return [...tags]
}
