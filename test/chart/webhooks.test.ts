import { X509Certificate, createPrivateKey } from 'node:crypto'
import t from 'tap'
import { type KubeObject, ofKind, only, renderChart, renderError } from '../support/helm.js'

const guardedExpression =
  "(object != null && has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('session-guard.dev/')))" +
  ' || ' +
  "(oldObject != null && has(oldObject.metadata.annotations) && oldObject.metadata.annotations.exists(k, k.startsWith('session-guard.dev/')))"

const serviceAccountRules = [
  {
    apiGroups: [''],
    apiVersions: ['v1'],
    operations: ['CREATE', 'UPDATE'],
    resources: ['serviceaccounts'],
    scope: 'Namespaced',
  },
]

function sharedFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    matchPolicy: 'Equivalent',
    rules: serviceAccountRules,
    namespaceSelector: {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'session-guard'] },
      ],
    },
    matchConditions: [
      { name: 'has-session-guard-annotation', expression: guardedExpression },
      {
        name: 'not-session-guard-sync',
        expression: "request.userInfo.username != 'system:serviceaccount:session-guard:session-guard'",
      },
    ],
    ...overrides,
  }
}

interface Webhook {
  name: string
  clientConfig: { caBundle?: string; service?: unknown; url?: string }
  [field: string]: unknown
}

function webhookOf(objects: KubeObject[], kind: string): Webhook {
  const configuration = only(objects, kind, 'session-guard') as KubeObject & { webhooks: Webhook[] }
  const [webhook, ...others] = configuration.webhooks
  if (!webhook || others.length > 0) throw new Error(`${kind} should hold exactly one webhook`)
  return webhook
}

function withoutCaBundle(webhook: Webhook): Webhook {
  const { caBundle: _caBundle, ...clientConfig } = webhook.clientConfig
  return { ...webhook, clientConfig }
}

const decode = (base64: string): string => Buffer.from(base64, 'base64').toString('utf8')

t.test('both webhooks send CREATE and UPDATE of annotated ServiceAccounts to the Service', async (t) => {
  const objects = await renderChart()
  t.same(withoutCaBundle(webhookOf(objects, 'MutatingWebhookConfiguration')), {
    name: 'mutate.session-guard.dev',
    clientConfig: { service: { name: 'session-guard', namespace: 'session-guard', path: '/mutate', port: 443 } },
    reinvocationPolicy: 'Never',
    ...sharedFields(),
  })
  t.same(withoutCaBundle(webhookOf(objects, 'ValidatingWebhookConfiguration')), {
    name: 'validate.session-guard.dev',
    clientConfig: { service: { name: 'session-guard', namespace: 'session-guard', path: '/validate', port: 443 } },
    ...sharedFields(),
  })
})

t.test('matchConditions and the webhook settings follow the values', async (t) => {
  const objects = await renderChart({
    config: { annotationPrefix: 'guard.example.com' },
    webhook: { failurePolicy: 'Ignore', timeoutSeconds: 12, excludedNamespaces: ['flux-system', 'session-guard'] },
    serviceAccount: { name: 'guard' },
  })
  const validating = webhookOf(objects, 'ValidatingWebhookConfiguration')
  t.equal(validating.failurePolicy, 'Ignore')
  t.equal(validating.timeoutSeconds, 12)
  t.same(validating.namespaceSelector, {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'session-guard', 'flux-system'] },
    ],
  })
  t.same(validating.matchConditions, [
    { name: 'has-session-guard-annotation', expression: guardedExpression.replaceAll('session-guard.dev/', 'guard.example.com/') },
    { name: 'not-session-guard-sync', expression: "request.userInfo.username != 'system:serviceaccount:session-guard:guard'" },
  ])
  t.same(webhookOf(objects, 'MutatingWebhookConfiguration').matchConditions, validating.matchConditions)
})

t.test('without the sync sidecar no request is exempt', async (t) => {
  const objects = await renderChart({ sync: { enabled: false } })
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    t.same(webhookOf(objects, kind).matchConditions, [{ name: 'has-session-guard-annotation', expression: guardedExpression }])
  }
})

t.test('tls.mode helm: one generated CA signs the Secret and fills both caBundles', async (t) => {
  const objects = await renderChart()
  const secret = only(objects, 'Secret', 'session-guard-tls') as KubeObject & { type: string; data: Record<string, string> }
  t.equal(secret.type, 'kubernetes.io/tls')
  t.same(Object.keys(secret.data).sort(), ['ca.crt', 'tls.crt', 'tls.key'])
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    t.equal(webhookOf(objects, kind).clientConfig.caBundle, secret.data['ca.crt'], `${kind} trusts the Secret's CA`)
    t.notOk(only(objects, kind).metadata.annotations, `${kind} carries no cert-manager annotation`)
  }
  const ca = new X509Certificate(decode(secret.data['ca.crt'] as string))
  const serving = new X509Certificate(decode(secret.data['tls.crt'] as string))
  t.ok(ca.ca, 'the CA certificate is a CA')
  t.ok(serving.verify(ca.publicKey), 'the serving certificate is signed by the CA')
  t.ok(serving.checkPrivateKey(createPrivateKey(decode(secret.data['tls.key'] as string))), 'the key matches')
  t.equal(serving.subject, 'CN=session-guard.session-guard.svc')
  t.equal(
    serving.subjectAltName,
    'DNS:session-guard, DNS:session-guard.session-guard, DNS:session-guard.session-guard.svc, DNS:session-guard.session-guard.svc.cluster.local',
  )
  const days = (Date.parse(serving.validTo) - Date.parse(serving.validFrom)) / 86_400_000
  t.equal(Math.round(days), 3650, 'valid for tls.helm.validityDays')
  t.equal(ofKind(objects, 'Certificate').length + ofKind(objects, 'Issuer').length, 0, 'no cert-manager objects')
})

t.test('tls.mode certManager: the release CA issues the serving certificate and cainjector fills caBundle', async (t) => {
  const objects = await renderChart({ tls: { mode: 'certManager' } })
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    t.same(only(objects, kind).metadata.annotations, { 'cert-manager.io/inject-ca-from': 'session-guard/session-guard-serving' })
    t.equal(webhookOf(objects, kind).clientConfig.caBundle, undefined, `${kind} leaves caBundle to cert-manager`)
  }
  t.same(only(objects, 'Issuer', 'session-guard-selfsigned').spec, { selfSigned: {} })
  t.same(only(objects, 'Certificate', 'session-guard-ca').spec, {
    isCA: true,
    commonName: 'session-guard-ca',
    secretName: 'session-guard-ca',
    duration: '87600h',
    renewBefore: '720h',
    privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    issuerRef: { name: 'session-guard-selfsigned', kind: 'Issuer', group: 'cert-manager.io' },
  })
  t.same(only(objects, 'Issuer', 'session-guard-ca').spec, { ca: { secretName: 'session-guard-ca' } })
  t.same(only(objects, 'Certificate', 'session-guard-serving').spec, {
    secretName: 'session-guard-tls',
    commonName: 'session-guard.session-guard.svc',
    dnsNames: [
      'session-guard',
      'session-guard.session-guard',
      'session-guard.session-guard.svc',
      'session-guard.session-guard.svc.cluster.local',
    ],
    duration: '2160h',
    renewBefore: '360h',
    usages: ['server auth', 'digital signature'],
    privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    issuerRef: { name: 'session-guard-ca', kind: 'Issuer', group: 'cert-manager.io' },
  })
  t.equal(ofKind(objects, 'Secret').length, 0, 'Helm generates no Secret')
})

t.test('tls.mode certManager with an issuerRef signs with that issuer only', async (t) => {
  const objects = await renderChart({
    tls: { mode: 'certManager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } },
  })
  t.same(
    objects.filter((object) => object.apiVersion === 'cert-manager.io/v1').map((object) => `${object.kind}/${object.metadata.name}`),
    ['Certificate/session-guard-serving'],
  )
  const certificate = only(objects, 'Certificate') as KubeObject & { spec: { issuerRef: unknown } }
  t.same(certificate.spec.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' })
})

t.test('tls.mode existingSecret: caBundle comes from tls.caBundle, PEM or base64', async (t) => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'
  const expected = Buffer.from(`${pem}\n`).toString('base64')
  for (const caBundle of [pem, `${pem}\n`, expected]) {
    const objects = await renderChart({ tls: { mode: 'existingSecret', existingSecret: { name: 'corp-serving' }, caBundle } })
    t.equal(webhookOf(objects, 'ValidatingWebhookConfiguration').clientConfig.caBundle, expected)
    t.equal(webhookOf(objects, 'MutatingWebhookConfiguration').clientConfig.caBundle, expected)
    t.equal(ofKind(objects, 'Secret').length, 0, 'the chart makes no Secret')
  }
})

t.test('tls.mode existingSecret refuses to render without its Secret name or CA', async (t) => {
  t.match(
    await renderError({ tls: { mode: 'existingSecret', caBundle: 'Zm9v' } }),
    'tls.existingSecret.name is required when tls.mode is existingSecret',
  )
  t.match(
    await renderError({ tls: { mode: 'existingSecret', existingSecret: { name: 'corp-serving' } } }),
    'tls.caBundle is required when tls.mode is existingSecret',
  )
})

t.test('webhook.url sends both webhooks to an out-of-cluster server', async (t) => {
  const objects = await renderChart({
    webhook: { url: 'https://10.0.0.5:8443/' },
    tls: { mode: 'certManager', caBundle: 'Zm9vYmFy' },
  })
  t.same(webhookOf(objects, 'MutatingWebhookConfiguration').clientConfig, { url: 'https://10.0.0.5:8443/mutate', caBundle: 'Zm9vYmFy' })
  t.same(webhookOf(objects, 'ValidatingWebhookConfiguration').clientConfig, {
    url: 'https://10.0.0.5:8443/validate',
    caBundle: 'Zm9vYmFy',
  })
  t.notOk(only(objects, 'ValidatingWebhookConfiguration').metadata.annotations, 'cert-manager does not inject a CA')
  t.match(await renderError({ webhook: { url: 'https://10.0.0.5:8443' } }), 'tls.caBundle is required when webhook.url is set')
  t.match(
    await renderError({ webhook: { url: 'http://10.0.0.5:8443' }, tls: { caBundle: 'Zm9v' } }),
    "at '/webhook/url': 'http://10.0.0.5:8443' does not match pattern",
  )
})
