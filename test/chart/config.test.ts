import t from 'tap'
import { parse } from 'yaml'
import { parseConfig } from '../../src/config/load.js'
import { type KubeObject, chartDir, only, parseManifests, releaseName, releaseNamespace, renderChart, renderError, runHelm } from '../support/helm.js'

function configTextOf(objects: KubeObject[]): string {
  const configMap = only(objects, 'ConfigMap', 'session-guard') as KubeObject & { data: Record<string, string> }
  if (Object.keys(configMap.data).join() !== 'config.yaml') throw new Error('the ConfigMap should hold config.yaml only')
  return configMap.data['config.yaml'] as string
}

async function configFileOf(values: unknown): Promise<unknown> {
  return parse(configTextOf(await renderChart(values)))
}

t.test('the config file renders every setting from values, with the release filling the rest', async (t) => {
  t.same(await configFileOf({}), {
    annotationPrefix: 'session-guard.dev',
    mode: 'enforce',
    clusterName: 'prod',
    region: 'eu-west-1',
    baseRoles: {
      source: 'iam',
      static: {},
      iam: { cacheTtlSeconds: 300, maxStaleSeconds: 3600, maxRoles: 1000, lookupTimeoutSeconds: 3 },
    },
    guardrails: {},
    webhook: { port: 8443, metricsPort: 9090, bodyLimitBytes: 1048576 },
    sync: {
      namespaces: [],
      resyncSeconds: 300,
      concurrency: 8,
      adoptExisting: false,
      restartWorkloads: false,
      lease: { name: 'session-guard-sync', namespace: 'session-guard', durationSeconds: 15, renewSeconds: 5 },
      port: 8081,
      installationId: 'session-guard/session-guard',
    },
  })
})

t.test('every value under config, webhook and sync reaches the file', async (t) => {
  const baseRole = 'arn:aws:iam::111122223333:role/eks-shared/s3-reader'
  const readS3 = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }
  const boundary = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
  const allowedRoles = [{ namespaces: ['team-a-*'], roles: ['arn:aws:iam::111122223333:role/eks-shared/*'] }]
  t.same(
    await configFileOf({
      config: {
        annotationPrefix: 'guard.example.com',
        mode: 'warn',
        clusterName: 'staging',
        region: 'us-east-2',
        baseRoles: {
          source: 'static',
          static: { [baseRole]: { policies: [readS3], permissionsBoundary: boundary } },
          iam: { endpoint: 'https://iam.example.test', cacheTtlSeconds: 60, maxStaleSeconds: 120, maxRoles: 50, lookupTimeoutSeconds: 2.5 },
        },
        guardrails: { allowedRoles },
      },
      webhook: { port: 9443, metricsPort: 0, bodyLimitBytes: 65536 },
      sync: {
        namespaces: ['team-a'],
        resyncSeconds: 60,
        concurrency: 8,
        adoptExisting: true,
        restartWorkloads: true,
        eksEndpoint: 'http://127.0.0.1:4566',
        lease: { name: 'guard-leader', durationSeconds: 30, renewSeconds: 10 },
        port: 9081,
        installationId: 'prod-a',
      },
    }),
    {
      annotationPrefix: 'guard.example.com',
      mode: 'warn',
      clusterName: 'staging',
      region: 'us-east-2',
      baseRoles: {
        source: 'static',
        static: { [baseRole]: { policies: [readS3], permissionsBoundary: boundary } },
        iam: { endpoint: 'https://iam.example.test', cacheTtlSeconds: 60, maxStaleSeconds: 120, maxRoles: 50, lookupTimeoutSeconds: 2.5 },
      },
      guardrails: { allowedRoles },
      webhook: { port: 9443, metricsPort: 0, bodyLimitBytes: 65536 },
      sync: {
        namespaces: ['team-a'],
        resyncSeconds: 60,
        concurrency: 8,
        adoptExisting: true,
        restartWorkloads: true,
        eksEndpoint: 'http://127.0.0.1:4566',
        lease: { name: 'guard-leader', namespace: 'session-guard', durationSeconds: 30, renewSeconds: 10 },
        port: 9081,
        installationId: 'prod-a',
      },
    },
  )
})

t.test('an empty allowedRoles list is kept: it grants nothing, unlike an absent one', async (t) => {
  t.same(((await configFileOf({ config: { guardrails: { allowedRoles: [] } } })) as { guardrails: unknown }).guardrails, {
    allowedRoles: [],
  })
})

t.test('the ports in the file are the ports the pod exposes', async (t) => {
  const objects = await renderChart({ webhook: { port: 9443, metricsPort: 9191 }, sync: { port: 9081 } })
  const deployment = only(objects, 'Deployment') as KubeObject & {
    spec: { template: { spec: { containers: { name: string; ports: { name: string; containerPort: number }[] }[] } } }
  }
  const ports = deployment.spec.template.spec.containers.flatMap((container) =>
    container.ports.map((port) => `${container.name}/${port.name}=${port.containerPort}`),
  )
  t.same(ports, ['webhook/https=9443', 'webhook/metrics=9191', 'sync/sync-http=9081'])
})

t.test('clusterName and region are required, with a message that says what they are', async (t) => {
  const stderr = await renderError({ config: { region: 'eu-west-1' } }, { withRequired: false })
  t.match(stderr, 'config.clusterName is required: the name of the EKS cluster')
  t.match(await renderError({ config: { clusterName: 'prod' } }, { withRequired: false }), 'config.region is required: the AWS region of the cluster')
})

t.test('values.schema.json rejects config values the program would refuse', async (t) => {
  t.match(await renderError({ config: { mode: 'audit' } }), "at '/config/mode': value must be one of 'enforce', 'warn'")
  t.match(await renderError({ config: { annotationPrefix: 'Not A Prefix' } }), "at '/config/annotationPrefix'")
  t.match(await renderError({ config: { baseRoles: { source: 'sts' } } }), "at '/config/baseRoles/source': value must be one of 'iam', 'static'")
  t.match(
    await renderError({ config: { guardrails: { allowedRoles: [{ namespaces: ['team-a'] }] } } }),
    "at '/config/guardrails/allowedRoles/0': missing property 'roles'",
  )
  t.match(await renderError({ config: { baseRoles: { static: { 'not-an-arn': { policies: [] } } } } }), "invalid propertyName 'not-an-arn'")
})

t.test('session-guard itself accepts the config file of every option set, unchanged by its defaults', async (t) => {
  for (const file of ['helm-tls-values.yaml', 'cert-manager-values.yaml', 'existing-secret-values.yaml', 'url-mode-values.yaml', 'hardened-values.yaml']) {
    const rendered = await runHelm(['template', releaseName, chartDir, '--namespace', releaseNamespace, '--values', `${chartDir}/ci/${file}`])
    t.equal(rendered.code, 0, rendered.stderr)
    const text = configTextOf(parseManifests(rendered.stdout))
    const rendersEveryKey = parse(text) as unknown
    t.same(parseConfig(text, `ci/${file}`), rendersEveryKey, `ci/${file}: loads, and the chart spelled out every default`)
  }
})

t.test('an IAM lookup deadline at or over the webhook timeout is refused', async (t) => {
  t.match(
    await renderError({ config: { baseRoles: { iam: { lookupTimeoutSeconds: 5 } } } }),
    'config.baseRoles.iam.lookupTimeoutSeconds must be less than webhook.timeoutSeconds',
  )
  t.match(
    await renderError({ config: { baseRoles: { iam: { lookupTimeoutSeconds: 31 } } }, webhook: { timeoutSeconds: 30 } }),
    "at '/config/baseRoles/iam/lookupTimeoutSeconds': maximum: got 31, want 30",
  )
})
