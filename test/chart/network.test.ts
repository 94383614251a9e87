import t from 'tap'
import { type KubeObject, ofKind, only, renderChart, renderError } from '../support/helm.js'

const selectorLabels = { 'app.kubernetes.io/name': 'session-guard', 'app.kubernetes.io/instance': 'session-guard' }
const specOf = (object: KubeObject): unknown => (object as KubeObject & { spec: unknown }).spec

t.test('the Service forwards 443 to the webhook and exposes the metrics ports', async (t) => {
  t.same(specOf(only(await renderChart(), 'Service', 'session-guard')), {
    type: 'ClusterIP',
    selector: selectorLabels,
    ports: [
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
      { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
      { name: 'sync-http', port: 8081, targetPort: 'sync-http', protocol: 'TCP' },
    ],
  })
  t.same(specOf(only(await renderChart({ webhook: { metricsPort: 0 }, sync: { enabled: false } }), 'Service')), {
    type: 'ClusterIP',
    selector: selectorLabels,
    ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }],
  })
})

t.test('NetworkPolicy and ServiceMonitor are opt-in', async (t) => {
  const objects = await renderChart()
  t.same(ofKind(objects, 'NetworkPolicy'), [])
  t.same(ofKind(objects, 'ServiceMonitor'), [])
})

const podIdentityAgentRule = {
  ports: [{ port: 80, protocol: 'TCP' }],
  to: [{ ipBlock: { cidr: '169.254.170.23/32' } }, { ipBlock: { cidr: 'fd00:ec2::23/128' } }],
}
const dnsRule = {
  ports: [
    { port: 53, protocol: 'UDP' },
    { port: 53, protocol: 'TCP' },
  ],
}

t.test('the NetworkPolicy admits the API server and scrapers, and lets out DNS, HTTPS and the Pod Identity Agent', async (t) => {
  const policy = only(
    await renderChart({
      networkPolicy: {
        enabled: true,
        webhookFrom: [{ ipBlock: { cidr: '10.0.0.0/16' } }],
        metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        egress: { apiServerPorts: [443, 6443] },
      },
    }),
    'NetworkPolicy',
    'session-guard',
  )
  t.same(specOf(policy), {
    podSelector: { matchLabels: selectorLabels },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      { ports: [{ port: 8443, protocol: 'TCP' }], from: [{ ipBlock: { cidr: '10.0.0.0/16' } }] },
      {
        ports: [
          { port: 9090, protocol: 'TCP' },
          { port: 8081, protocol: 'TCP' },
        ],
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      },
    ],
    egress: [
      dnsRule,
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
      },
      podIdentityAgentRule,
    ],
  })
})

t.test('NetworkPolicy variants: open sources, HTTPS destinations, extra rules, ingress only', async (t) => {
  const extraRule = { to: [{ ipBlock: { cidr: '10.1.0.0/16' } }], ports: [{ port: 4566, protocol: 'TCP' }] }
  const open = specOf(
    only(
      await renderChart({
        networkPolicy: { enabled: true, egress: { httpsTo: [{ ipBlock: { cidr: '10.0.0.0/8' } }], extraRules: [extraRule] } },
      }),
      'NetworkPolicy',
    ),
  ) as { ingress: unknown; egress: unknown }
  t.same(open.ingress, [
    { ports: [{ port: 8443, protocol: 'TCP' }] },
    {
      ports: [
        { port: 9090, protocol: 'TCP' },
        { port: 8081, protocol: 'TCP' },
      ],
    },
  ])
  t.same(open.egress, [
    dnsRule,
    { ports: [{ port: 443, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] },
    podIdentityAgentRule,
    extraRule,
  ])
  const ingressOnly = specOf(
    only(await renderChart({ networkPolicy: { enabled: true, egress: { enabled: false } }, webhook: { metricsPort: 0 } }), 'NetworkPolicy'),
  )
  t.same(ingressOnly, {
    podSelector: { matchLabels: selectorLabels },
    policyTypes: ['Ingress'],
    ingress: [{ ports: [{ port: 8443, protocol: 'TCP' }] }, { ports: [{ port: 8081, protocol: 'TCP' }] }],
  })
})

t.test('the ServiceMonitor scrapes the webhook and the sync sidecar', async (t) => {
  const monitor = only(
    await renderChart({ serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' }, interval: '15s' } }),
    'ServiceMonitor',
    'session-guard',
  )
  t.equal(monitor.apiVersion, 'monitoring.coreos.com/v1')
  t.equal(monitor.metadata.labels?.release, 'kube-prometheus-stack')
  t.same(specOf(monitor), {
    namespaceSelector: { matchNames: ['session-guard'] },
    selector: { matchLabels: selectorLabels },
    endpoints: [
      { port: 'metrics', path: '/metrics', scheme: 'http', interval: '15s', scrapeTimeout: '10s' },
      { port: 'sync-http', path: '/metrics', scheme: 'http', interval: '15s', scrapeTimeout: '10s' },
    ],
  })
  t.match(
    await renderError({ serviceMonitor: { enabled: true }, webhook: { metricsPort: 0 }, sync: { enabled: false } }),
    'serviceMonitor.enabled needs something to scrape',
  )
})
