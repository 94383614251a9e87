/**
 * Runs the EKS emulator as a process, for end-to-end tests and local development:
 *
 *   node --import @tapjs/typescript/import test/support/eks-emulator-main.ts \
 *     [--port N] [--cluster NAME]... [--region R] [--account-id ID]
 *
 * Prints the endpoint as its first line of output, then serves until SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util'
import { startEksEmulator } from './eks-emulator.js'

const USAGE = 'usage: eks-emulator-main [--port N] [--cluster NAME]... [--region REGION] [--account-id ID]'

function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      cluster: { type: 'string', multiple: true },
      region: { type: 'string' },
      'account-id': { type: 'string' },
    },
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${values.port}`)
  return {
    port,
    ...(values.cluster === undefined ? {} : { clusters: values.cluster }),
    ...(values.region === undefined ? {} : { region: values.region }),
    ...(values['account-id'] === undefined ? {} : { accountId: values['account-id'] }),
  }
}

async function main(): Promise<void> {
  let options
  try {
    options = readOptions(process.argv.slice(2))
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    process.exitCode = 2
    return
  }
  const emulator = await startEksEmulator(options)
  console.log(emulator.endpoint)
  const stop = (): void => {
    emulator.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

await main()
