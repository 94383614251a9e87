import type { Finding } from '../policy/findings.js'

/** A ServiceAccount as the admission logic and the sync sidecar see it. */
export interface ServiceAccountRef {
  namespace: string
  name: string
  annotations: Record<string, string>
}

/** The EKS Pod Identity association a guarded, clean ServiceAccount asks for. */
export interface DesiredAssociation {
  namespace: string
  serviceAccount: string
  roleArn: string
  targetRoleArn?: string
  /** The normalized session policy (the `normalized-policy` annotation's value), when there is one. */
  policy?: string
  disableSessionTags: boolean
}

/**
 * The judgment of one ServiceAccount as a CREATE, shared by /validate, `review` and the sync sidecar.
 * `violations` are reported whatever the mode; `allowed` applies the mode (warn admits).
 */
export interface Judgment {
  guarded: boolean
  allowed: boolean
  violations: Finding[]
  warnings: Finding[]
  /** The normalization of the session policy; null when there is none or it does not parse. */
  normalizedPolicy: string | null
  /** Present when guarded and there are no violations at all: what sync may apply. */
  association?: DesiredAssociation
}
