/**
 * Helpers for the webhook tests: a throwaway CA and serving certificates (selfsigned), HTTPS requests
 * with node:https that trust only that CA, and AdmissionReview builders.
 */
import { X509Certificate } from 'node:crypto'
import { request, type Agent, type RequestOptions } from 'node:https'
import type { TLSSocket } from 'node:tls'
import selfsigned from 'selfsigned'
import type { AdmissionRequest, AdmissionResponse, KubeObject } from '../../src/admission/types.js'

export interface KeyPair {
  cert: string
  key: string
}

const oneDay = 24 * 60 * 60 * 1000

/** A certificate authority for one test file. */
export async function makeCertificateAuthority(name = 'session-guard test CA'): Promise<KeyPair> {
  const ca = await selfsigned.generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + oneDay),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  })
  return { cert: ca.cert, key: ca.private }
}

/** A serving certificate for localhost and 127.0.0.1, signed by `ca`. */
export async function issueServingCertificate(ca: KeyPair, commonName = 'session-guard-webhook'): Promise<KeyPair> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + oneDay),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  })
  return { cert: pems.cert, key: pems.private }
}

export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256
}

export interface HttpsAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** SHA-256 fingerprint of the certificate the server presented. */
  peerFingerprint: string
}

export interface HttpsOptions {
  method?: string
  body?: string
  headers?: Record<string, string>
  /** The CA to trust; without it the server's certificate is not verified (the development certificate). */
  ca?: string
  /** Defaults to a new connection per request (agent: false). */
  agent?: Agent | false
}

/** One HTTPS request to 127.0.0.1 over a real TLS connection. */
export function httpsRequest(port: number, path: string, options: HttpsOptions = {}): Promise<HttpsAnswer> {
  const requestOptions: RequestOptions = {
    host: '127.0.0.1',
    port,
    path,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    agent: options.agent ?? false,
    ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca, servername: 'localhost' }),
  }
  return new Promise((resolve, reject) => {
    const req = request(requestOptions, (res) => {
      const peerFingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peerFingerprint }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** POSTs an AdmissionReview and returns the HTTP status and the parsed answer. */
export async function postReview(port: number, endpoint: '/mutate' | '/validate', admissionRequest: AdmissionRequest, options: HttpsOptions = {}) {
  const answer = await httpsRequest(port, endpoint, {
    ...options,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(admissionReview(admissionRequest)),
  })
  return { ...answer, review: JSON.parse(answer.body) as { apiVersion: string; kind: string; response: AdmissionResponse } }
}

export function admissionReview(admissionRequest: AdmissionRequest) {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: admissionRequest }
}

/** An AdmissionRequest for a ServiceAccount as kube-apiserver sends it. */
export function serviceAccountRequest(
  uid: string,
  namespace: string,
  name: string,
  annotations: Record<string, string> | undefined,
  extra: { operation?: string; dryRun?: boolean; oldAnnotations?: Record<string, string> } = {},
): AdmissionRequest {
  const object = (values: Record<string, string> | undefined): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace, ...(values ? { annotations: values } : {}) },
  })
  return {
    uid,
    kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
    namespace,
    name,
    operation: extra.operation ?? 'CREATE',
    dryRun: extra.dryRun ?? false,
    object: object(annotations),
    oldObject: extra.operation === 'UPDATE' ? object(extra.oldAnnotations) : null,
  }
}

/** The JSON Patch of a mutate answer, decoded from base64. */
export function decodedPatch(response: AdmissionResponse): unknown {
  return response.patch === undefined ? undefined : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'))
}

export const APP_DATA = 'arn:aws:iam::111122223333:role/app-data'
export const TAGGED = 'arn:aws:iam::111122223333:role/tagged'

/** A webhook config with static base roles: no AWS access needed. */
export const testConfigYaml = `
annotationPrefix: session-guard.dev
mode: enforce
clusterName: test
region: eu-west-1
baseRoles:
  source: static
  static:
    ${APP_DATA}:
      policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [s3:GetObject, s3:PutObject, s3:ListBucket]
              Resource: ["arn:aws:s3:::acme-team-*", "arn:aws:s3:::acme-team-*/*"]
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: "arn:aws:sqs:eu-west-1:111122223333:acme-*"
    ${TAGGED}:
      policies:
        - Version: "2012-10-17"
          Statement:
            - Sid: OwnPrefix
              Effect: Allow
              Action: s3:GetObject
              Resource: "arn:aws:s3:::acme-shared/\${aws:PrincipalTag/kubernetes-namespace}/*"
guardrails:
  allowedRoles:
    - namespaces: ["team-*"]
      roles: ["${APP_DATA}", "${TAGGED}"]
webhook:
  metricsPort: 0
`

/** Annotations of a guarded ServiceAccount with tags disabled, as developers write them. */
export function guardedAnnotations(roleArn: string, sessionPolicy: object | string): Record<string, string> {
  return {
    'session-guard.dev/role-arn': roleArn,
    'session-guard.dev/disable-session-tags': 'true',
    'session-guard.dev/session-policy': typeof sessionPolicy === 'string' ? sessionPolicy : JSON.stringify(sessionPolicy, null, 2),
  }
}

export function allow(action: string | string[], resource: string | string[]) {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] }
}
