/**
 * moto_server, the AWS emulator the IAM tests talk to over real HTTP. Installed on first use by
 * scripts/tools/moto.sh (a venv under ~/.cache/session-guard), started on a free loopback port.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { IAMClient } from '@aws-sdk/client-iam'

export interface Moto {
  /** `http://127.0.0.1:PORT` */
  endpoint: string
  /** Forgets every resource, as if just started. */
  reset(): Promise<void>
  /** With true, moto checks signatures and IAM permissions of every later request (moto's reset-auth). */
  enforceAuth(enforced: boolean): Promise<void>
  /** Ends the server; safe to call twice. */
  stop(): Promise<void>
}

const installScript = fileURLToPath(new URL('../../scripts/tools/moto.sh', import.meta.url))
const startTimeoutMs = 30_000

/** Path of moto_server, installing it the first time (slow once: pip install). */
export async function motoServerPath(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [installScript], { timeout: 600_000 })
  return stdout.trim()
}

export async function startMoto(): Promise<Moto> {
  const server = await motoServerPath()
  // Port 0: the server takes a free port and prints it, so parallel test files never collide.
  const args = ['-H', '127.0.0.1', '-p', '0']
  // setpriv makes the kernel end moto if this process dies without running its exit handlers.
  const child = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', server, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(server, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)
  try {
    const port = await announcedPort(child)
    const endpoint = `http://127.0.0.1:${port}`
    await waitUntilAnswering(endpoint)
    return {
      endpoint,
      reset: () => motoApi(endpoint, 'reset', ''),
      // reset-auth takes how many more requests go unchecked: 0 checks from now on.
      enforceAuth: (enforced) => motoApi(endpoint, 'reset-auth', enforced ? '0' : 'inf'),
      stop: async () => {
        process.off('exit', killOnExit)
        await stopChild(child)
      },
    }
  } catch (error) {
    process.off('exit', killOnExit)
    await stopChild(child)
    throw error
  }
}

/** An IAM client for moto: the real SDK, a static test identity, one attempt so failures show at once. */
export function iamClientFor(endpoint: string): IAMClient {
  return new IAMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  })
}

async function motoApi(endpoint: string, operation: string, body: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/${operation}`, { method: 'POST', body })
  if (!response.ok) throw new Error(`moto ${operation} answered HTTP ${response.status}: ${await response.text()}`)
}

/** Reads the server's output until it says where it listens; keeps draining it after, so it never blocks. */
function announcedPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => fail(new Error(`moto_server did not start in ${startTimeoutMs} ms:\n${output}`)), startTimeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (match) finish(() => resolve(Number(match[1])))
    }
    const onExit = (code: number | null) => fail(new Error(`moto_server exited (${code}) before listening:\n${output}`))
    const finish = (settle: () => void) => {
      clearTimeout(timer)
      child.off('exit', onExit)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      for (const stream of [child.stdout, child.stderr]) {
        stream?.resume()
        // A test that forgets stop() still ends: the exit handler (or setpriv) then ends moto.
        ;(stream as Socket | null)?.unref()
      }
      child.unref()
      settle()
    }
    const fail = (error: Error) => finish(() => reject(error))
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
    child.once('error', fail)
  })
}

async function waitUntilAnswering(endpoint: string): Promise<void> {
  const deadline = Date.now() + startTimeoutMs
  for (;;) {
    try {
      await fetch(`${endpoint}/moto-api/data.json`)
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`moto_server at ${endpoint} does not answer`, { cause: error })
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
  await exited
  clearTimeout(timer)
}
