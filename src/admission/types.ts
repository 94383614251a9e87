/** The parts of admission.k8s.io/v1 AdmissionReview that session-guard reads and writes. */
export interface AdmissionRequest {
  uid: string
  kind?: { group?: string; version?: string; kind?: string }
  namespace?: string
  name?: string
  operation?: string
  dryRun?: boolean
  object?: KubeObject | null
  oldObject?: KubeObject | null
}

export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string; generateName?: string; namespace?: string; annotations?: Record<string, string> | null }
}

export interface AdmissionResponse {
  uid: string
  allowed: boolean
  status?: { code: number; reason?: string; message: string }
  patch?: string
  patchType?: 'JSONPatch'
  warnings?: string[]
  auditAnnotations?: Record<string, string>
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1'
  kind: 'AdmissionReview'
  response: AdmissionResponse
}

/** What a review decided, for logs and metrics. */
export interface ReviewOutcome {
  decision: 'admitted' | 'denied' | 'warned' | 'skipped'
  codes: string[]
  patched: boolean
}

export type JsonPatchOperation =
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string }
