import t from 'tap'
import pino from 'pino'
import { createEksClient } from '../../src/aws/eks-associations.js'
import { createSyncEngine, syncOnce } from '../../src/sync/once.js'
import { startEksEmulator } from '../support/eks-emulator.js'
import { guardedAccount, judgeFromAnnotations, testConfig } from './harness.js'

const logger = pino({ level: 'silent' })

t.test('2,000 guarded ServiceAccounts converge in one pass well within 60 s; a second pass writes nothing', async (t) => {
  const emulator = await startEksEmulator()
  t.teardown(() => emulator.close())
  const eksClient = createEksClient(emulator.clientConfig())
  t.teardown(() => eksClient.destroy())
  const config = testConfig({ concurrency: 32 })
  const accounts = Array.from({ length: 2000 }, (_, i) => guardedAccount(`team-${i % 50}`, `app-${i}`))
  const engine = createSyncEngine({ config, judge: judgeFromAnnotations, eksClient, logger })

  const started = performance.now()
  const first = await engine.fullPass(accounts)
  const seconds = (performance.now() - started) / 1000
  t.comment(`first pass: ${seconds.toFixed(2)} s, ${JSON.stringify(emulator.calls())}`)
  t.equal(first.results.created, 2000)
  t.equal(emulator.associations().length, 2000)
  t.ok(seconds < 60, `converged in ${seconds.toFixed(1)} s`)

  emulator.resetCalls()
  const second = await engine.fullPass(accounts)
  t.equal(emulator.writeCalls(), 0, 'the second pass writes nothing')
  t.equal(second.results.unchanged, 2000)
  t.same(emulator.calls().DescribePodIdentityAssociation, 0, 'nor describes: the cache holds what was written')

  emulator.resetCalls()
  const startedCold = performance.now()
  const cold = await syncOnce({ config, judge: judgeFromAnnotations, eksClient, logger, serviceAccounts: accounts })
  t.comment(`cold second pass: ${((performance.now() - startedCold) / 1000).toFixed(2)} s, ${JSON.stringify(emulator.calls())}`)
  t.equal(emulator.writeCalls(), 0, 'a restarted sidecar writes nothing either')
  t.equal(cold.results.unchanged, 2000)
})
