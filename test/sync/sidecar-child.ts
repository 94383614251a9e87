/**
 * A whole sync sidecar in its own process, for the hand-over test (handover.test.ts): runSync against the
 * kube-apiserver of SIDECAR_KUBECONFIG and the emulator at SIDECAR_EKS_ENDPOINT. It prints `port N`,
 * then `leading` / `standing by` on each change, and stops gracefully on SIGTERM. Run alone (as tap
 * does, listing it as "no tests found") it does nothing.
 */
import { KubeConfig } from '@kubernetes/client-node'
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import { runSync } from '../../src/sync/run.js'
import { judgeFromAnnotations, testConfig } from './harness.js'

const kubeconfigPath = process.env['SIDECAR_KUBECONFIG']
const endpoint = process.env['SIDECAR_EKS_ENDPOINT']
if (kubeconfigPath && endpoint) {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(kubeconfigPath)
  const sidecar = await runSync({
    config: testConfig({ lease: { name: 'sync', namespace: 'session-guard', durationSeconds: 3, renewSeconds: 1 } }),
    judge: judgeFromAnnotations,
    kubeConfig,
    eksClient: createEksClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
    logger: pino({ level: 'warn' }, pino.destination(2)),
    identity: process.env['SIDECAR_IDENTITY'] ?? 'sidecar',
  })
  process.stdout.write(`port ${sidecar.port}\n`)
  let leading = false
  const poll = setInterval(() => {
    if (sidecar.isLeader() === leading) return
    leading = !leading
    process.stdout.write(leading ? 'leading\n' : 'standing by\n')
  }, 20)
  process.once('SIGTERM', () => {
    clearInterval(poll)
    void sidecar.stop().then(() => process.exit(0))
  })
}
