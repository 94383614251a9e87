/**
 * Restarts the workloads that run as a ServiceAccount, the way `kubectl rollout restart` does: a new
 * `kubectl.kubernetes.io/restartedAt` annotation on the pod template makes the controller roll the pods,
 * and new pods fetch credentials under the updated association.
 */
import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import type { KubeConfig, V1PodTemplateSpec } from '@kubernetes/client-node'

export const restartedAtAnnotation = 'kubectl.kubernetes.io/restartedAt'

type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet'

interface Workload {
  metadata?: { name?: string }
  spec?: { template: V1PodTemplateSpec }
}

/** Restarts every Deployment, StatefulSet and DaemonSet of the namespace whose pods use the ServiceAccount. */
export async function restartWorkloads(
  kubeConfig: KubeConfig,
  namespace: string,
  serviceAccount: string,
  now: Date = new Date(),
): Promise<string[]> {
  const apps = kubeConfig.makeApiClient(AppsV1Api)
  const [deployments, statefulSets, daemonSets] = await Promise.all([
    apps.listNamespacedDeployment({ namespace }),
    apps.listNamespacedStatefulSet({ namespace }),
    apps.listNamespacedDaemonSet({ namespace }),
  ])
  const body = { spec: { template: { metadata: { annotations: { [restartedAtAnnotation]: rfc3339(now) } } } } }
  const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  const patchers: Record<WorkloadKind, (name: string) => Promise<unknown>> = {
    Deployment: (name) => apps.patchNamespacedDeployment({ name, namespace, body }, options),
    StatefulSet: (name) => apps.patchNamespacedStatefulSet({ name, namespace, body }, options),
    DaemonSet: (name) => apps.patchNamespacedDaemonSet({ name, namespace, body }, options),
  }
  const targets: Array<[WorkloadKind, Workload[]]> = [
    ['Deployment', deployments.items],
    ['StatefulSet', statefulSets.items],
    ['DaemonSet', daemonSets.items],
  ]
  const restarted: string[] = []
  for (const [kind, items] of targets) {
    for (const workload of items) {
      const name = workload.metadata?.name
      if (!name || !runsAs(workload, serviceAccount)) continue
      await patchers[kind](name)
      restarted.push(`${kind}/${name}`)
    }
  }
  return restarted
}

// A pod template without serviceAccountName runs as `default`.
function runsAs(workload: Workload, serviceAccount: string): boolean {
  const spec = workload.spec?.template.spec
  return (spec?.serviceAccountName || spec?.serviceAccount || 'default') === serviceAccount
}

// kubectl writes RFC 3339 to the second.
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
