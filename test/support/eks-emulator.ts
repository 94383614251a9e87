/**
 * An in-process Amazon EKS endpoint for the Pod Identity association operations and DescribeCluster.
 *
 * It speaks the REST-JSON wire protocol of the EKS API (routes, JSON bodies, epoch-second timestamps,
 * `x-amzn-ErrorType` errors), so the real `@aws-sdk/client-eks` talks to it unchanged through an endpoint
 * override. State lives in memory; faults (throttling, 5xx, latency, lost responses) can be switched on at
 * runtime, deterministically with a seed; every call is counted per operation.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type EksOperation =
  | 'CreatePodIdentityAssociation'
  | 'DescribePodIdentityAssociation'
  | 'UpdatePodIdentityAssociation'
  | 'DeletePodIdentityAssociation'
  | 'ListPodIdentityAssociations'
  | 'DescribeCluster'
  | 'TagResource'

const OPERATIONS: readonly EksOperation[] = [
  'CreatePodIdentityAssociation',
  'DescribePodIdentityAssociation',
  'UpdatePodIdentityAssociation',
  'DeletePodIdentityAssociation',
  'ListPodIdentityAssociations',
  'DescribeCluster',
  'TagResource',
]
const WRITE_OPERATIONS: ReadonlySet<EksOperation> = new Set([
  'CreatePodIdentityAssociation',
  'UpdatePodIdentityAssociation',
  'DeletePodIdentityAssociation',
  'TagResource',
])

/** An association as EKS puts it on the wire (timestamps in epoch seconds). */
export interface EmulatedAssociation {
  clusterName: string
  namespace: string
  serviceAccount: string
  roleArn: string
  associationArn: string
  associationId: string
  tags: Record<string, string>
  createdAt: number
  modifiedAt: number
  ownerArn?: string
  disableSessionTags: boolean
  targetRoleArn?: string
  externalId?: string
  policy?: string
}

/** Pre-creates an association without going through HTTP: add-on-owned (`ownerArn`) or foreign ones. */
export interface SeedAssociationInput {
  /** Defaults to the first cluster. */
  clusterName?: string
  namespace: string
  serviceAccount: string
  roleArn: string
  ownerArn?: string
  tags?: Record<string, string>
  disableSessionTags?: boolean
  targetRoleArn?: string
  policy?: string
}

export interface FaultConfig {
  /** Share of requests answered 429 ThrottlingException, before any effect. */
  throttleRate?: number
  /** Share of requests answered 500 ServerException, before any effect. */
  serverErrorRate?: number
  /** Share of successful writes whose response is lost: the change is applied, then 500 ServerException. */
  lostResponseRate?: number
  /** Delay before every affected request is handled. */
  latencyMs?: number
  /** Makes the fault sequence reproducible; without it faults use Math.random. */
  seed?: number
  /** Operations the faults apply to; all when omitted. */
  operations?: EksOperation[]
}

export interface EksEmulatorOptions {
  clusters?: string[]
  region?: string
  accountId?: string
  /** 0 (the default) picks a free port. */
  port?: number
  /** Wall clock in milliseconds, for exact timestamps in tests. */
  now?: () => number
}

export interface EksEmulator {
  readonly endpoint: string
  readonly region: string
  readonly accountId: string
  readonly clusters: readonly string[]
  /** Configuration for `new EKSClient(...)` that reaches this emulator. */
  clientConfig(): { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } }
  close(): Promise<void>
  /** Replaces the fault configuration; `setFaults({})` switches faults off. */
  setFaults(faults: FaultConfig): void
  /** Requests received per operation since the last reset, faulted ones included. */
  calls(): Record<EksOperation, number>
  /** Create, update and delete requests received since the last reset. */
  writeCalls(): number
  resetCalls(): void
  /** A copy of every association, in creation order. */
  associations(clusterName?: string): EmulatedAssociation[]
  seedAssociation(input: SeedAssociationInput): EmulatedAssociation
  addCluster(name: string): void
}

type ErrorType =
  | 'BadRequestException'
  | 'InvalidParameterException'
  | 'InvalidRequestException'
  | 'NotFoundException'
  | 'ResourceInUseException'
  | 'ResourceNotFoundException'
  | 'ServerException'
  | 'ThrottlingException'
  | 'UnknownOperationException'

const ERROR_STATUS: Record<ErrorType, number> = {
  BadRequestException: 400,
  InvalidParameterException: 400,
  InvalidRequestException: 400,
  NotFoundException: 404,
  ResourceInUseException: 409,
  ResourceNotFoundException: 404,
  ServerException: 500,
  ThrottlingException: 429,
  UnknownOperationException: 404,
}

/** An EKS API error: becomes the status, `x-amzn-ErrorType` and `{message}` the SDK maps to its class. */
class EksError extends Error {
  readonly type: ErrorType
  constructor(type: ErrorType, message: string) {
    super(message)
    this.type = type
  }
}

const MAX_POLICY_LENGTH = 2048
const DEFAULT_PAGE_SIZE = 100
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/
// STS accepts session policies made of these characters only.
const POLICY_CHARACTERS = /^[\t\n\r\u0020-\u00ff]*$/

interface StoredAssociation {
  seq: number
  association: EmulatedAssociation
}

interface IdempotentCreate {
  fingerprint: string
  associationId: string
}

interface ClusterState {
  name: string
  arn: string
  createdAt: number
  associations: Map<string, StoredAssociation>
  /** `namespace/serviceAccount` → association id: EKS allows one association per service account. */
  bySubject: Map<string, string>
  createTokens: Map<string, IdempotentCreate>
}

type Body = Record<string, unknown>

/** Everything EKS would hold for one account and region; no HTTP in here. */
class EksState {
  private readonly clusters = new Map<string, ClusterState>()
  private readonly region: string
  private readonly accountId: string
  private readonly nowMs: () => number
  private nextSeq = 1

  constructor(region: string, accountId: string, nowMs: () => number) {
    this.region = region
    this.accountId = accountId
    this.nowMs = nowMs
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()]
  }

  addCluster(name: string): void {
    if (this.clusters.has(name)) return
    this.clusters.set(name, {
      name,
      arn: `arn:aws:eks:${this.region}:${this.accountId}:cluster/${name}`,
      createdAt: this.now(),
      associations: new Map(),
      bySubject: new Map(),
      createTokens: new Map(),
    })
  }

  describeCluster(name: string): Body {
    const cluster = this.requireCluster(name)
    const endpointId = createHash('md5').update(cluster.arn).digest('hex').toUpperCase()
    return {
      cluster: {
        name: cluster.name,
        arn: cluster.arn,
        createdAt: cluster.createdAt,
        version: '1.33',
        endpoint: `https://${endpointId}.gr7.${this.region}.eks.amazonaws.com`,
        roleArn: `arn:aws:iam::${this.accountId}:role/eks-cluster-role`,
        status: 'ACTIVE',
        platformVersion: 'eks.1',
        certificateAuthority: { data: Buffer.from(`emulated CA of ${cluster.name}`).toString('base64') },
        tags: {},
      },
    }
  }

  create(clusterName: string, body: Body): EmulatedAssociation {
    const cluster = this.requireCluster(clusterName)
    const input = readCreateInput(body)
    const token = optionalString(body, 'clientRequestToken')
    const fingerprint = JSON.stringify(input)
    const replay = token === undefined ? undefined : cluster.createTokens.get(token)
    if (replay !== undefined) {
      if (replay.fingerprint !== fingerprint) {
        throw new EksError('InvalidParameterException',
          `The clientRequestToken ${token} was already used with different parameters.`)
      }
      const existing = cluster.associations.get(replay.associationId)
      if (existing !== undefined) return copy(existing.association)
    }
    const association = this.insert(cluster, input)
    if (token !== undefined) cluster.createTokens.set(token, { fingerprint, associationId: association.associationId })
    return copy(association)
  }

  seed(input: SeedAssociationInput): EmulatedAssociation {
    const clusterName = input.clusterName ?? this.clusterNames()[0]
    if (clusterName === undefined) throw new Error('the emulator has no cluster to seed into')
    const { ownerArn, ...fields } = input
    const validated = readCreateInput({ ...fields } as Body)
    const association = this.insert(this.requireCluster(clusterName), validated)
    if (ownerArn !== undefined) association.ownerArn = ownerArn
    return copy(association)
  }

  describe(clusterName: string, associationId: string): EmulatedAssociation {
    return copy(this.requireAssociation(clusterName, associationId).association)
  }

  update(clusterName: string, associationId: string, body: Body): EmulatedAssociation {
    const stored = this.requireAssociation(clusterName, associationId)
    requireUnowned(stored.association, 'updated')
    const next = applyUpdate(stored.association, body)
    validateSessionPolicy(next)
    next.modifiedAt = this.now()
    stored.association = next
    return copy(next)
  }

  delete(clusterName: string, associationId: string): EmulatedAssociation {
    const cluster = this.requireCluster(clusterName)
    const { association } = this.requireAssociation(clusterName, associationId)
    requireUnowned(association, 'deleted')
    cluster.associations.delete(associationId)
    cluster.bySubject.delete(subjectKey(association))
    return copy(association)
  }

  /** TagResource on an association ARN: merges the tags (an existing key takes the new value). */
  tag(resourceArn: string, body: Body): Body {
    const tags = readTags(body)
    if (Object.keys(tags).length === 0) throw new EksError('InvalidParameterException', 'tags must name at least one tag.')
    for (const cluster of this.clusters.values()) {
      for (const stored of cluster.associations.values()) {
        if (stored.association.associationArn !== resourceArn) continue
        const merged = { ...stored.association.tags, ...tags }
        if (Object.keys(merged).length > 50) throw new EksError('InvalidParameterException', 'An association can have at most 50 tags.')
        stored.association = { ...stored.association, tags: merged }
        return {}
      }
    }
    throw new EksError('NotFoundException', `No resource found for ARN: ${resourceArn}`)
  }

  list(clusterName: string, query: URLSearchParams): Body {
    const cluster = this.requireCluster(clusterName)
    const pageSize = readMaxResults(query.get('maxResults'))
    const nextToken = query.get('nextToken')
    const after = nextToken === null ? 0 : readNextToken(nextToken, cluster.name)
    const namespace = query.get('namespace')
    const serviceAccount = query.get('serviceAccount')
    const page: StoredAssociation[] = []
    let more = false
    for (const stored of cluster.associations.values()) {
      if (stored.seq <= after) continue
      if (namespace !== null && stored.association.namespace !== namespace) continue
      if (serviceAccount !== null && stored.association.serviceAccount !== serviceAccount) continue
      if (page.length === pageSize) {
        more = true
        break
      }
      page.push(stored)
    }
    const last = page.at(-1)
    return {
      associations: page.map(({ association }) => summary(association)),
      ...(more && last !== undefined ? { nextToken: writeNextToken(cluster.name, last.seq) } : {}),
    }
  }

  snapshot(clusterName?: string): EmulatedAssociation[] {
    const clusters = clusterName === undefined ? [...this.clusters.values()] : [this.requireCluster(clusterName)]
    return clusters.flatMap((cluster) => [...cluster.associations.values()].map(({ association }) => copy(association)))
  }

  private insert(cluster: ClusterState, input: CreateInput): EmulatedAssociation {
    const existingId = cluster.bySubject.get(subjectKey(input))
    if (existingId !== undefined) {
      throw new EksError('ResourceInUseException', `Association already exists: ${existingId}`)
    }
    const associationId = newAssociationId()
    const now = this.now()
    const association: EmulatedAssociation = {
      clusterName: cluster.name,
      namespace: input.namespace,
      serviceAccount: input.serviceAccount,
      roleArn: input.roleArn,
      associationArn: `arn:aws:eks:${this.region}:${this.accountId}:podidentityassociation/${cluster.name}/${associationId}`,
      associationId,
      tags: { ...input.tags },
      createdAt: now,
      modifiedAt: now,
      disableSessionTags: input.disableSessionTags,
      ...(input.targetRoleArn === undefined ? {} : { targetRoleArn: input.targetRoleArn, externalId: randomUUID() }),
      ...(input.policy === undefined ? {} : { policy: input.policy }),
    }
    cluster.associations.set(associationId, { seq: this.nextSeq++, association })
    cluster.bySubject.set(subjectKey(association), associationId)
    return association
  }

  private requireCluster(name: string): ClusterState {
    const cluster = this.clusters.get(name)
    if (cluster === undefined) throw new EksError('ResourceNotFoundException', `No cluster found for name: ${name}.`)
    return cluster
  }

  private requireAssociation(clusterName: string, associationId: string): StoredAssociation {
    const cluster = this.requireCluster(clusterName)
    if (associationId.length !== 19) {
      throw new EksError('InvalidParameterException', 'The parameter associationId should be 19 characters long.')
    }
    const stored = cluster.associations.get(associationId)
    if (stored === undefined) throw new EksError('ResourceNotFoundException', `Association not found: ${associationId}`)
    return stored
  }

  private now(): number {
    return this.nowMs() / 1000
  }
}

interface CreateInput {
  namespace: string
  serviceAccount: string
  roleArn: string
  tags: Record<string, string>
  disableSessionTags: boolean
  targetRoleArn?: string
  policy?: string
}

/** Reads the modelled create members only; anything else in the body is ignored, as EKS does. */
function readCreateInput(body: Body): CreateInput {
  const input: CreateInput = {
    namespace: requiredString(body, 'namespace'),
    serviceAccount: requiredString(body, 'serviceAccount'),
    roleArn: roleArn(requiredString(body, 'roleArn'), 'roleArn'),
    tags: readTags(body),
    disableSessionTags: optionalBoolean(body, 'disableSessionTags') ?? false,
  }
  const targetRoleArn = optionalString(body, 'targetRoleArn')
  if (targetRoleArn !== undefined && targetRoleArn !== '') input.targetRoleArn = roleArn(targetRoleArn, 'targetRoleArn')
  const policy = optionalString(body, 'policy')
  if (policy !== undefined && policy !== '') input.policy = policy
  validateSessionPolicy(input)
  return input
}

/** roleArn, targetRoleArn, disableSessionTags and policy may change; an empty string clears the last two. */
function applyUpdate(current: EmulatedAssociation, body: Body): EmulatedAssociation {
  const roleArnUpdate = optionalString(body, 'roleArn')
  const targetRoleArn = optionalString(body, 'targetRoleArn')
  const disableSessionTags = optionalBoolean(body, 'disableSessionTags')
  const policy = optionalString(body, 'policy')
  if (roleArnUpdate === undefined && targetRoleArn === undefined && disableSessionTags === undefined && policy === undefined) {
    throw new EksError('InvalidParameterException',
      'At least one of roleArn, targetRoleArn, disableSessionTags or policy must be specified.')
  }
  const next = copy(current)
  if (roleArnUpdate !== undefined) next.roleArn = roleArn(roleArnUpdate, 'roleArn')
  if (targetRoleArn === '') {
    delete next.targetRoleArn
    delete next.externalId
  } else if (targetRoleArn !== undefined) {
    next.targetRoleArn = roleArn(targetRoleArn, 'targetRoleArn')
    next.externalId ??= randomUUID()
  }
  if (disableSessionTags !== undefined) next.disableSessionTags = disableSessionTags
  if (policy === '') delete next.policy
  else if (policy !== undefined) next.policy = policy
  return next
}

function validateSessionPolicy(association: { policy?: string; disableSessionTags: boolean }): void {
  const { policy } = association
  if (policy === undefined) return
  if (policy.length > MAX_POLICY_LENGTH) {
    throw new EksError('InvalidParameterException',
      `The policy is ${policy.length} characters long; the maximum is ${MAX_POLICY_LENGTH}.`)
  }
  if (!POLICY_CHARACTERS.test(policy)) {
    throw new EksError('InvalidParameterException',
      'The policy contains characters outside U+0020-U+00FF, tab, line feed and carriage return.')
  }
  if (!isJson(policy)) throw new EksError('InvalidParameterException', 'The policy is not valid JSON.')
  if (!association.disableSessionTags) {
    throw new EksError('InvalidParameterException', 'A policy can only be set when disableSessionTags is true.')
  }
}

// Add-on associations are managed through their add-on, never directly.
function requireUnowned(association: EmulatedAssociation, verb: string): void {
  if (association.ownerArn === undefined) return
  throw new EksError('InvalidRequestException',
    `Association ${association.associationId} is owned by ${association.ownerArn} and cannot be ${verb} directly.`)
}

function roleArn(value: string, member: string): string {
  if (!ROLE_ARN.test(value)) throw new EksError('InvalidParameterException', `${member} is not a valid IAM role ARN: ${value}`)
  return value
}

function readTags(body: Body): Record<string, string> {
  const tags = body['tags']
  if (tags === undefined || tags === null) return {}
  if (typeof tags !== 'object' || Array.isArray(tags)) throw malformed('tags', 'a map of strings')
  const entries = Object.entries(tags)
  if (entries.length > 50) throw new EksError('InvalidParameterException', 'An association can have at most 50 tags.')
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw malformed(`tags.${key}`, 'a string')
    if (key.length < 1 || key.length > 128 || value.length > 256 || key.toLowerCase().startsWith('aws:')) {
      throw new EksError('InvalidParameterException', `The tag ${key} is not valid.`)
    }
  }
  return Object.fromEntries(entries) as Record<string, string>
}

function readMaxResults(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE_SIZE
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw new EksError('InvalidParameterException', `maxResults must be between 1 and 100, got ${raw}.`)
  }
  return value
}

// The token names the last association returned, so deletes between pages never make a page skip one.
function writeNextToken(clusterName: string, seq: number): string {
  return Buffer.from(JSON.stringify({ c: clusterName, s: seq })).toString('base64url')
}

function readNextToken(token: string, clusterName: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
    if (isRecord(parsed) && parsed['c'] === clusterName && Number.isInteger(parsed['s'])) return parsed['s'] as number
  } catch {
    // reported below
  }
  throw new EksError('InvalidParameterException', 'The nextToken is not valid.')
}

function summary(association: EmulatedAssociation): Body {
  const { clusterName, namespace, serviceAccount, associationArn, associationId, ownerArn } = association
  return { clusterName, namespace, serviceAccount, associationArn, associationId, ...(ownerArn === undefined ? {} : { ownerArn }) }
}

function requiredString(body: Body, member: string): string {
  const value = optionalString(body, member)
  if (value === undefined || value === '') throw new EksError('InvalidParameterException', `${member} is required.`)
  return value
}

function optionalString(body: Body, member: string): string | undefined {
  const value = body[member]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw malformed(member, 'a string')
  return value
}

function optionalBoolean(body: Body, member: string): boolean | undefined {
  const value = body[member]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw malformed(member, 'a boolean')
  return value
}

function malformed(member: string, expected: string): EksError {
  return new EksError('BadRequestException', `Malformed request body: ${member} must be ${expected}.`)
}

function subjectKey({ namespace, serviceAccount }: { namespace: string; serviceAccount: string }): string {
  return `${namespace}/${serviceAccount}`
}

function newAssociationId(): string {
  let id = 'a-'
  for (let i = 0; i < 17; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)]
  return id
}

function copy(association: EmulatedAssociation): EmulatedAssociation {
  return { ...association, tags: { ...association.tags } }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// ---------------------------------------------------------------------------------------------- faults

/** mulberry32: a small seeded generator, so a seed replays the same fault sequence. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Faults {
  private config: FaultConfig = {}
  private random: () => number = Math.random

  set(config: FaultConfig): void {
    for (const rate of ['throttleRate', 'serverErrorRate', 'lostResponseRate'] as const) {
      const value = config[rate] ?? 0
      if (!(value >= 0 && value <= 1)) throw new RangeError(`${rate} must be between 0 and 1, got ${value}`)
    }
    if ((config.throttleRate ?? 0) + (config.serverErrorRate ?? 0) > 1) {
      throw new RangeError('throttleRate + serverErrorRate must not exceed 1')
    }
    if ((config.latencyMs ?? 0) < 0) throw new RangeError('latencyMs must not be negative')
    this.config = { ...config }
    this.random = config.seed === undefined ? Math.random : seededRandom(config.seed)
  }

  latency(operation: EksOperation): number {
    return this.applies(operation) ? this.config.latencyMs ?? 0 : 0
  }

  /** The error a request fails with before it has any effect, if any. */
  before(operation: EksOperation): EksError | undefined {
    const throttle = this.config.throttleRate ?? 0
    const server = this.config.serverErrorRate ?? 0
    if (!this.applies(operation) || throttle + server === 0) return undefined
    const draw = this.random()
    if (draw < throttle) return new EksError('ThrottlingException', 'Rate exceeded')
    if (draw < throttle + server) return serverError()
    return undefined
  }

  /** The error that replaces the response of a write that has been applied, if any. */
  after(operation: EksOperation): EksError | undefined {
    const lost = this.config.lostResponseRate ?? 0
    if (!WRITE_OPERATIONS.has(operation) || !this.applies(operation) || lost === 0) return undefined
    return this.random() < lost ? serverError() : undefined
  }

  private applies(operation: EksOperation): boolean {
    return this.config.operations === undefined || this.config.operations.includes(operation)
  }
}

function serverError(): EksError {
  return new EksError('ServerException', 'An internal error occurred. Try the request again.')
}

// ------------------------------------------------------------------------------------------------ HTTP

interface Route {
  operation: EksOperation
  handle: (body: Body) => Body
}

const ASSOCIATIONS = 'pod-identity-associations'

function route(state: EksState, method: string, url: URL): Route | undefined {
  const segments = url.pathname.split('/').slice(1).map(decodeURIComponent)
  if (segments[0] === 'tags' && segments.length === 2 && method === 'POST') {
    const resourceArn = segments[1] ?? ''
    return { operation: 'TagResource', handle: (body) => state.tag(resourceArn, body) }
  }
  if (segments[0] !== 'clusters' || segments[1] === undefined || segments[1] === '') return undefined
  const cluster = segments[1]
  if (segments.length === 2 && method === 'GET') {
    return { operation: 'DescribeCluster', handle: () => state.describeCluster(cluster) }
  }
  if (segments[2] !== ASSOCIATIONS) return undefined
  if (segments.length === 3) {
    if (method === 'POST') {
      return { operation: 'CreatePodIdentityAssociation', handle: (body) => ({ association: state.create(cluster, body) }) }
    }
    if (method === 'GET') {
      return { operation: 'ListPodIdentityAssociations', handle: () => state.list(cluster, url.searchParams) }
    }
    return undefined
  }
  const id = segments[3]
  if (segments.length !== 4 || id === undefined || id === '') return undefined
  if (method === 'GET') {
    return { operation: 'DescribePodIdentityAssociation', handle: () => ({ association: state.describe(cluster, id) }) }
  }
  if (method === 'POST') {
    return { operation: 'UpdatePodIdentityAssociation', handle: (body) => ({ association: state.update(cluster, id, body) }) }
  }
  if (method === 'DELETE') {
    return { operation: 'DeletePodIdentityAssociation', handle: () => ({ association: state.delete(cluster, id) }) }
  }
  return undefined
}

async function readBody(request: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new EksError('BadRequestException', 'Malformed request body: not JSON.')
  }
  if (!isRecord(parsed)) throw new EksError('BadRequestException', 'Malformed request body: not a JSON object.')
  return parsed
}

function send(response: ServerResponse, status: number, payload: Body, errorType?: ErrorType): void {
  const text = JSON.stringify(payload)
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType === undefined ? {} : { 'x-amzn-ErrorType': errorType }),
  })
  response.end(text)
}

function sendError(response: ServerResponse, error: EksError): void {
  send(response, ERROR_STATUS[error.type], { message: error.message }, error.type)
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function startEksEmulator(options: EksEmulatorOptions = {}): Promise<EksEmulator> {
  const region = options.region ?? 'us-east-1'
  const accountId = options.accountId ?? '111122223333'
  const state = new EksState(region, accountId, options.now ?? Date.now)
  for (const name of options.clusters ?? ['test-cluster']) state.addCluster(name)
  const faults = new Faults()
  let counts = zeroCounts()

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://emulator')
    const matched = route(state, request.method ?? 'GET', url)
    if (matched === undefined) {
      request.resume()
      sendError(response, new EksError('UnknownOperationException', `No EKS operation at ${request.method} ${url.pathname}`))
      return
    }
    counts[matched.operation]++
    try {
      const body = await readBody(request)
      const latency = faults.latency(matched.operation)
      if (latency > 0) await delay(latency)
      const early = faults.before(matched.operation)
      if (early !== undefined) throw early
      const result = matched.handle(body)
      const lost = faults.after(matched.operation)
      if (lost !== undefined) throw lost
      send(response, 200, result)
    } catch (error) {
      if (!(error instanceof EksError)) throw error
      sendError(response, error)
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // A client that hung up mid-request is not a failure of the emulator.
      if (request.destroyed || response.destroyed) return
      console.error('eks-emulator: unexpected failure', error)
      if (!response.headersSent) sendError(response, serverError())
      else response.destroy()
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const endpoint = `http://127.0.0.1:${port}`

  return {
    endpoint,
    region,
    accountId,
    get clusters() {
      return state.clusterNames()
    },
    clientConfig: () => ({ endpoint, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
        server.closeAllConnections()
      }),
    setFaults: (config) => faults.set(config),
    calls: () => ({ ...counts }),
    writeCalls: () => [...WRITE_OPERATIONS].reduce((sum, operation) => sum + counts[operation], 0),
    resetCalls: () => {
      counts = zeroCounts()
    },
    associations: (clusterName) => state.snapshot(clusterName),
    seedAssociation: (input) => state.seed(input),
    addCluster: (name) => state.addCluster(name),
  }
}

function zeroCounts(): Record<EksOperation, number> {
  return Object.fromEntries(OPERATIONS.map((operation) => [operation, 0])) as Record<EksOperation, number>
}
