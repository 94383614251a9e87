import { parseArgs } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import { UnreadableInputError } from '../io/files.js'
import { loadConfig } from '../config/load.js'
import { createLogger } from '../log.js'
import { createRuntime } from '../runtime.js'
import { runSync } from '../sync/index.js'
import { stopOnSignal } from './shutdown.js'
import { UsageError } from './usage.js'

/** `session-guard sync --config FILE`: runs until SIGTERM/SIGINT, then releases the Lease and exits. */
export async function runSyncCommand(argv: string[]): Promise<undefined> {
  const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true, allowPositionals: true })
  if (positionals.length > 0) throw new UsageError(`sync takes no positional arguments (got ${positionals.join(' ')})`)
  if (!values.config) throw new UsageError('sync needs --config FILE')
  const config = await loadConfig(values.config)
  const logger = createLogger('sync')
  const runtime = await createRuntime(config)
  const sidecar = await runSync({ config, judge: runtime.judge, logger, kubeConfig: kubernetesClientConfig() })
  logger.info({ port: sidecar.port, cluster: config.clusterName, region: config.region }, 'session-guard sync started')
  stopOnSignal(logger, 'stopping: finishing running calls and releasing the Lease', () => sidecar.stop())
  return undefined
}

/** In a pod: the in-cluster config; elsewhere $KUBECONFIG or ~/.kube/config. */
function kubernetesClientConfig(): KubeConfig {
  const kubeConfig = new KubeConfig()
  try {
    kubeConfig.loadFromDefault()
  } catch (error) {
    const where = process.env.KUBECONFIG ? `KUBECONFIG=${process.env.KUBECONFIG}` : 'the in-cluster or default kubeconfig'
    throw new UnreadableInputError(`cannot load the Kubernetes client configuration from ${where}: ${(error as Error).message}`)
  }
  if (!kubeConfig.getCurrentCluster()) throw new UnreadableInputError('no Kubernetes cluster is configured: run in a pod, or set KUBECONFIG')
  return kubeConfig
}
