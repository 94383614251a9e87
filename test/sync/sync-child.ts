/**
 * A sync sidecar process for the restart test (restart.test.ts): full passes against the emulator at
 * SYNC_CHILD_ENDPOINT until one is clean, for the ServiceAccounts of SYNC_CHILD_VERSION. Run alone (as
 * tap does, listing it as "no tests found") it does nothing.
 */
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import { KeyBackoff } from '../../src/sync/backoff.js'
import { createSyncEngine } from '../../src/sync/once.js'
import { accountsOfVersion } from './restart-accounts.js'
import { judgeFromAnnotations, testConfig } from './harness.js'

const endpoint = process.env['SYNC_CHILD_ENDPOINT']
if (endpoint) {
  const eksClient = createEksClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
  const engine = createSyncEngine({
    config: testConfig({ concurrency: 8 }),
    judge: judgeFromAnnotations,
    eksClient,
    logger: pino({ level: 'silent' }),
    backoff: new KeyBackoff({ baseMs: 20, maxMs: 200 }),
  })
  const accounts = accountsOfVersion(Number(process.env['SYNC_CHILD_VERSION'] ?? '1'))
  for (let pass = 1; ; pass++) {
    const report = await engine.fullPass(accounts).catch(() => undefined)
    if (report && report.failures.length === 0 && report.deferred === 0) break
    if (pass === 50) process.exit(1)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  eksClient.destroy()
  process.stdout.write('converged\n')
}
