// Runs the helm binary that scripts/tools/helm.sh builds, against charts/session-guard, and parses
// what it renders. The first run on a machine builds helm from source (minutes), so the calling test
// file's timeout is raised before that build, and only then.
import { execFile, spawn } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { parseAllDocuments } from 'yaml'

const execFileAsync = promisify(execFile)

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const chartDir = `${repoRoot}charts/session-guard`
const helmScript = `${repoRoot}scripts/tools/helm.sh`
const buildTimeoutMs = 30 * 60 * 1000

export const releaseName = 'session-guard'
export const releaseNamespace = 'session-guard'

/** Values every render needs: the two the chart refuses to guess. */
export const requiredValues = { config: { clusterName: 'prod', region: 'eu-west-1' } }

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

let helmBinary: Promise<string> | undefined

/** The helm binary's path, built by scripts/tools/helm.sh when it is missing. */
export function helmPath(): Promise<string> {
  helmBinary ??= locateHelm()
  return helmBinary
}

async function locateHelm(): Promise<string> {
  const expected = lastLine((await execFileAsync(helmScript, ['--path'])).stdout)
  if (!(await isExecutable(expected))) t.setTimeout(buildTimeoutMs)
  const { stdout } = await execFileAsync(helmScript, [], { maxBuffer: 1 << 20, timeout: buildTimeoutMs })
  return lastLine(stdout)
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n')
  return lines[lines.length - 1] ?? ''
}

export interface HelmResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunHelmOptions {
  /** A cluster to talk to (install, upgrade, lookup); none by default. */
  kubeconfig?: string
}

/** Runs helm with `values` (as JSON, a YAML subset) on stdin as `--values -`. */
export async function runHelm(args: string[], values?: unknown, options: RunHelmOptions = {}): Promise<HelmResult> {
  const helm = await helmPath()
  const fullArgs = values === undefined ? args : [...args, '--values', '-']
  return new Promise((resolve, reject) => {
    const child = spawn(helm, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'], env: helmEnv(options.kubeconfig) })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(values === undefined ? '' : JSON.stringify(values))
  })
}

// Keep helm away from the user's own config, caches and kube context.
function helmEnv(kubeconfig?: string): NodeJS.ProcessEnv {
  const scratch = `${repoRoot}.tap/helm-home`
  return {
    PATH: process.env.PATH,
    HOME: scratch,
    HELM_CACHE_HOME: `${scratch}/cache`,
    HELM_CONFIG_HOME: `${scratch}/config`,
    HELM_DATA_HOME: `${scratch}/data`,
    KUBECONFIG: kubeconfig ?? `${scratch}/no-kubeconfig`,
  }
}

/** Deep-merges `overrides` onto `base` (objects merge, everything else replaces). */
export function withValues(base: unknown, overrides: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(overrides)) return overrides
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(overrides)) merged[key] = withValues(base[key], value)
  return merged
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `helm template` of the chart with the required values plus `values`; rejects when helm fails. */
export async function renderChart(values: unknown = {}): Promise<KubeObject[]> {
  const result = await runHelm(
    ['template', releaseName, chartDir, '--namespace', releaseNamespace],
    withValues(requiredValues, values),
  )
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`)
  return parseManifests(result.stdout)
}

/** helm's stderr for values the chart must refuse; rejects when helm renders them. */
export async function renderError(values: unknown, options: { withRequired?: boolean } = {}): Promise<string> {
  const result = await runHelm(
    ['template', releaseName, chartDir, '--namespace', releaseNamespace],
    options.withRequired === false ? values : withValues(requiredValues, values),
  )
  if (result.code === 0) throw new Error('helm template rendered values it should have refused')
  return result.stderr
}

export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = []
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw document.errors[0]
    const object: unknown = document.toJS()
    if (object !== null && object !== undefined) objects.push(object as KubeObject)
  }
  return objects
}

/** The one object of that kind (and name, when given); throws when there is not exactly one. */
export function only(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name))
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`)
  return found[0] as KubeObject
}

export function ofKind(objects: KubeObject[], kind: string): KubeObject[] {
  return objects.filter((object) => object.kind === kind)
}

/** `kind/name` of every object, sorted: what a render produced, at a glance. */
export function inventory(objects: KubeObject[]): string[] {
  return objects
    .map((object) => `${object.kind}/${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`)
    .sort()
}
