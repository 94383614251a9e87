/**
 * Runs the project's EKS emulator (test/support/eks-emulator.ts) in a process of its own, as EKS is a
 * remote service, and answers questions about it over the IPC channel of `fork`:
 *   → {id, op: 'calls' | 'resetCalls' | 'associations' | 'close'}   ← {id, result} or {id, error}
 * The TypeScript module is loaded with Node's type stripping, or through the project's TypeScript
 * loader when the parent forks this host with `--import @tapjs/typescript/import`.
 * First message to the parent: {ready: true, endpoint} or {ready: false, error}.
 */
const [cluster, region, accountId] = process.argv.slice(2)

let emulator
try {
  const { startEksEmulator } = await import('../test/support/eks-emulator.ts')
  emulator = await startEksEmulator({ clusters: [cluster], region, accountId })
} catch (error) {
  process.send({ ready: false, error: error?.stack ?? String(error) })
  process.disconnect()
  process.exit(0)
}

process.on('message', async ({ id, op }) => {
  try {
    let result
    if (op === 'calls') result = { calls: emulator.calls(), writes: emulator.writeCalls() }
    else if (op === 'resetCalls') result = emulator.resetCalls()
    else if (op === 'associations') result = emulator.associations(cluster)
    else if (op === 'close') {
      await emulator.close()
      process.send({ id, result: null }, () => process.exit(0))
      return
    } else throw new Error(`unknown op ${op}`)
    process.send({ id, result: result ?? null })
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true, endpoint: emulator.endpoint })
