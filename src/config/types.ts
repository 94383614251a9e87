/**
 * The configuration file's shape after loading and defaulting (see src/config/schema.ts for the schema
 * and README.md "Configuration" for every key). Keys fixed by PRODUCT.md: annotationPrefix, mode,
 * clusterName, region, baseRoles.source, baseRoles.static, guardrails.allowedRoles.
 */

/** An IAM policy document as written in the config: a YAML/JSON object or a JSON string. */
export type PolicyDocumentInput = string | Record<string, unknown>

export interface StaticBaseRole {
  policies: PolicyDocumentInput[]
  permissionsBoundary?: PolicyDocumentInput
}

export interface IamBaseRoleSettings {
  /** Override of the IAM endpoint (tests, VPC endpoints); the SDK default chain otherwise. */
  endpoint?: string
  /** How long a role's policies are trusted before they are read again. */
  cacheTtlSeconds: number
  /** How long past its TTL a cached role may still be used while IAM is failing. */
  maxStaleSeconds: number
  /** The most roles kept in the cache. */
  maxRoles: number
  /** Deadline of one role's whole IAM lookup; keep it under the webhooks' timeoutSeconds. */
  lookupTimeoutSeconds: number
}

export interface AllowedRolesEntry {
  namespaces: string[]
  roles: string[]
}

export interface WebhookSettings {
  port: number
  /** Plain-HTTP port for Prometheus metrics; 0 disables it. */
  metricsPort: number
  tls?: { certFile: string; keyFile: string }
  /** Largest AdmissionReview body accepted, in bytes. */
  bodyLimitBytes: number
}

export interface SyncSettings {
  /** Namespaces to watch; empty means all. */
  namespaces: string[]
  resyncSeconds: number
  concurrency: number
  adoptExisting: boolean
  restartWorkloads: boolean
  /** Override of the EKS endpoint (tests, the emulator). */
  eksEndpoint?: string
  lease: { name: string; namespace: string; durationSeconds: number; renewSeconds: number }
  /** Port of the sidecar's /healthz, /readyz and /metrics. */
  port: number
  /** Identifies this installation in association ownership tags. */
  installationId: string
}

export interface Config {
  annotationPrefix: string
  mode: 'enforce' | 'warn'
  clusterName: string
  region: string
  baseRoles: {
    source: 'iam' | 'static'
    static: Record<string, StaticBaseRole>
    iam: IamBaseRoleSettings
  }
  guardrails: {
    /** Absent: every namespace may use every role. Present: only what an entry grants. */
    allowedRoles?: AllowedRolesEntry[]
  }
  webhook: WebhookSettings
  sync: SyncSettings
}
