import t from 'tap'
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import type { V1PodTemplateSpec } from '@kubernetes/client-node'
import { restartedAtAnnotation, restartWorkloads } from '../../src/kube/workloads.js'
import { startControlPlane } from '../support/control-plane.js'

const plane = await startControlPlane()
t.teardown(() => plane.stop())
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(plane.kubeconfigPath)
const apps = kubeConfig.makeApiClient(AppsV1Api)
await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'shop' } } })

function template(serviceAccountName?: string): V1PodTemplateSpec {
  return {
    metadata: { labels: { app: 'x' } },
    spec: { ...(serviceAccountName ? { serviceAccountName } : {}), containers: [{ name: 'app', image: 'example.com/app:1' }] },
  }
}

t.test('restarts the Deployments, StatefulSets and DaemonSets that run as the ServiceAccount', async (t) => {
  const selector = { matchLabels: { app: 'x' } }
  await apps.createNamespacedDeployment({ namespace: 'shop', body: { metadata: { name: 'cart-web' }, spec: { selector, template: template('cart') } } })
  await apps.createNamespacedDeployment({ namespace: 'shop', body: { metadata: { name: 'other' }, spec: { selector, template: template('billing') } } })
  await apps.createNamespacedDeployment({ namespace: 'shop', body: { metadata: { name: 'default-sa' }, spec: { selector, template: template() } } })
  await apps.createNamespacedStatefulSet({ namespace: 'shop', body: { metadata: { name: 'cart-db' }, spec: { selector, serviceName: 'db', template: template('cart') } } })
  await apps.createNamespacedDaemonSet({ namespace: 'shop', body: { metadata: { name: 'cart-agent' }, spec: { selector, template: template('cart') } } })

  const now = new Date('2026-12-03T10:11:12.345Z')
  t.same(await restartWorkloads(kubeConfig, 'shop', 'cart', now), ['Deployment/cart-web', 'StatefulSet/cart-db', 'DaemonSet/cart-agent'])
  const restartedAt = async (read: Promise<{ spec?: { template: V1PodTemplateSpec } }>) =>
    (await read).spec?.template.metadata?.annotations?.[restartedAtAnnotation]
  t.equal(await restartedAt(apps.readNamespacedDeployment({ namespace: 'shop', name: 'cart-web' })), '2026-12-03T10:11:12Z')
  t.equal(await restartedAt(apps.readNamespacedStatefulSet({ namespace: 'shop', name: 'cart-db' })), '2026-12-03T10:11:12Z')
  t.equal(await restartedAt(apps.readNamespacedDaemonSet({ namespace: 'shop', name: 'cart-agent' })), '2026-12-03T10:11:12Z')
  t.equal(await restartedAt(apps.readNamespacedDeployment({ namespace: 'shop', name: 'other' })), undefined, 'another ServiceAccount: untouched')
  t.same(await restartWorkloads(kubeConfig, 'shop', 'default', now), ['Deployment/default-sa'], 'no serviceAccountName means default')
  const deployment = await apps.readNamespacedDeployment({ namespace: 'shop', name: 'cart-web' })
  t.same(deployment.spec?.template.metadata?.labels, { app: 'x' }, 'the rest of the template is kept')
})
