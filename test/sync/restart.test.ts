import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import { syncOnce } from '../../src/sync/once.js'
import { startEksEmulator } from '../support/eks-emulator.js'
import type { EksEmulator } from '../support/eks-emulator.js'
import { judgeFromAnnotations, stateOf, testConfig } from './harness.js'
import { accountsOfVersion } from './restart-accounts.js'

const child = fileURLToPath(new URL('./sync-child.ts', import.meta.url))

/** Runs the sync in a child process; with `killAfterWrites`, SIGKILLs it once that many writes arrived. */
function runChild(emulator: EksEmulator, version: number, killAfterWrites?: number): Promise<'converged' | 'killed'> {
  const startWrites = emulator.writeCalls()
  const proc = spawn(process.execPath, [...process.execArgv, child], {
    env: { ...process.env, SYNC_CHILD_ENDPOINT: emulator.endpoint, SYNC_CHILD_VERSION: String(version) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const watcher =
    killAfterWrites === undefined
      ? undefined
      : setInterval(() => {
          if (emulator.writeCalls() - startWrites >= killAfterWrites) proc.kill('SIGKILL')
        }, 5)
  return new Promise((resolve, reject) => {
    proc.on('exit', (code, signal) => {
      clearInterval(watcher)
      if (signal === 'SIGKILL') resolve('killed')
      else if (code === 0 && output.includes('converged')) resolve('converged')
      else reject(new Error(`sync child exited with ${code ?? signal}`))
    })
  })
}

t.test('a sidecar killed mid-run, restarted with changed ServiceAccounts, ends with no duplicate, orphan or lost update', async (t) => {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  emulator.setFaults({ latencyMs: 3, serverErrorRate: 0.05, lostResponseRate: 0.05, seed: 3 })

  t.equal(await runChild(emulator, 1, 120), 'killed', 'killed during the creates')
  const midway = emulator.associations()
  t.ok(midway.length >= 100 && midway.length < 300, `part of the creates landed (${midway.length})`)

  t.equal(await runChild(emulator, 2, 60), 'killed', 'restarted on new desired state, killed again midway')
  t.equal(await runChild(emulator, 2), 'converged', 'a third run finishes')

  emulator.setFaults({})
  const expected = accountsOfVersion(2).map((a) => {
    const moved = Number(a.name.slice(4)) < 100
    return `${a.namespace}/${a.name} role=${moved ? 'shared-writer' : 'shared-reader'} target=- policy=${moved ? `v2-${a.name}` : a.name} noTags=true owner=test-install`
  })
  t.same(stateOf(emulator.associations()), expected.sort(), 'exactly the version-2 associations: none missing, none extra, all updated')

  emulator.resetCalls()
  const eksClient = createEksClient(emulator.clientConfig())
  t.teardown(() => eksClient.destroy())
  const report = await syncOnce({
    config: testConfig(),
    judge: judgeFromAnnotations,
    eksClient,
    logger: pino({ level: 'silent' }),
    serviceAccounts: accountsOfVersion(2),
  })
  t.equal(emulator.writeCalls(), 0, 'one more pass has nothing to write')
  t.equal(report.results.unchanged, 250)
})
