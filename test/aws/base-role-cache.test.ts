import t from 'tap'
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { BaseRoleCache, type BaseRoleCacheHooks } from '../../src/aws/base-role-cache.js'
import { BaseRoleUnavailableError, type BaseRoleDocuments, type BaseRoleSource } from '../../src/aws/base-role-source.js'
import { IamBaseRoles } from '../../src/aws/iam-base-roles.js'
import { iamClientFor, startMoto } from '../support/moto.js'

const roleA = 'arn:aws:iam::123456789012:role/a'
const roleB = 'arn:aws:iam::123456789012:role/b'
const roleC = 'arn:aws:iam::123456789012:role/c'
const settings = { cacheTtlSeconds: 60, maxStaleSeconds: 30, maxRoles: 10 }

/** A base-role source whose answers the test gives, one lookup at a time. */
class ScriptedSource implements BaseRoleSource {
  readonly asked: string[] = []
  #pending: { roleArn: string; resolve: (documents: BaseRoleDocuments) => void; reject: (error: unknown) => void }[] = []
  /** When set, lookups answer at once: documents for a role, or an error to throw. */
  answer?: (roleArn: string) => BaseRoleDocuments | Error

  get(roleArn: string): Promise<BaseRoleDocuments> {
    this.asked.push(roleArn)
    const answer = this.answer?.(roleArn)
    if (answer instanceof Error) return Promise.reject(answer)
    if (answer !== undefined) return Promise.resolve(answer)
    return new Promise((resolve, reject) => this.#pending.push({ roleArn, resolve, reject }))
  }

  resolveNext(documents: BaseRoleDocuments): void {
    this.#pending.shift()?.resolve(documents)
  }

  rejectNext(error: unknown): void {
    this.#pending.shift()?.reject(error)
  }
}

const documentsOf = (roleArn: string, version = 1): BaseRoleDocuments => ({ roleArn, policies: [`{"v":${version}}`] })

function recordingHooks(): { events: string[]; hooks: BaseRoleCacheHooks } {
  const events: string[] = []
  const name = (roleArn: string) => roleArn.slice(roleArn.lastIndexOf('/') + 1)
  return {
    events,
    hooks: {
      onHit: (roleArn) => events.push(`hit ${name(roleArn)}`),
      onMiss: (roleArn) => events.push(`miss ${name(roleArn)}`),
      onError: (roleArn, error, servedStale) =>
        events.push(`error ${name(roleArn)} ${servedStale ? 'stale' : 'failed'}: ${error.message}`),
    },
  }
}

function fakeClock(): { now: () => number; at(ms: number): void } {
  let current = 0
  return { now: () => current, at: (ms) => { current = ms } }
}

t.test('keeps a role for the TTL, then reads it again', async (t) => {
  const source = new ScriptedSource()
  source.answer = (roleArn) => documentsOf(roleArn, source.asked.length)
  const clock = fakeClock()
  const { events, hooks } = recordingHooks()
  const cache = new BaseRoleCache(source, settings, { now: clock.now, hooks })
  const first = await cache.get(roleA)
  clock.at(59_999)
  t.equal(await cache.get(roleA), first, 'the same answer just before the TTL ends')
  clock.at(60_000)
  t.strictSame(await cache.get(roleA), documentsOf(roleA, 2), 'a new read when the TTL ends')
  clock.at(119_999)
  await cache.get(roleA)
  t.same(source.asked, [roleA, roleA], 'IAM read twice')
  t.same(events, ['miss a', 'hit a', 'miss a', 'hit a'], 'hooks see each get')
})

t.test('concurrent gets of a role share one lookup', async (t) => {
  const source = new ScriptedSource()
  const { events, hooks } = recordingHooks()
  const cache = new BaseRoleCache(source, settings, { now: fakeClock().now, hooks })
  const gets = [cache.get(roleA), cache.get(roleA), cache.get(roleA)]
  t.same(source.asked, [roleA], 'one lookup in flight')
  const documents = documentsOf(roleA)
  source.resolveNext(documents)
  const answers = await Promise.all(gets)
  t.ok(answers.every((answer) => answer === documents), 'every caller gets the lookup answer')
  t.same(events, ['miss a', 'miss a', 'miss a'], 'each waiting get is a miss')

  const failing = [cache.get(roleB), cache.get(roleB)]
  const unavailable = new BaseRoleUnavailableError(roleB, 'role b does not exist in IAM')
  source.rejectNext(unavailable)
  const errors = await Promise.all(failing.map((get) => get.then(() => undefined, (error: unknown) => error)))
  t.ok(errors.every((error) => error === unavailable), 'every caller gets the one failure')
  t.same(source.asked, [roleA, roleB], 'one lookup for the failing role')
  t.same(events.slice(3), [
    'miss b',
    'miss b',
    `error b failed: the policies of ${roleB} cannot be read: role b does not exist in IAM`,
  ], 'one error for the shared lookup')
})

t.test('a failure is not remembered: the next get asks again', async (t) => {
  const source = new ScriptedSource()
  let failing = true
  source.answer = (roleArn) => (failing ? new BaseRoleUnavailableError(roleArn, 'IAM did not answer') : documentsOf(roleArn))
  const cache = new BaseRoleCache(source, settings, { now: fakeClock().now })
  await t.rejects(cache.get(roleA), { message: `the policies of ${roleA} cannot be read: IAM did not answer` }, 'first get fails')
  failing = false
  t.strictSame(await cache.get(roleA), documentsOf(roleA), 'the next get reads the role')
  t.same(source.asked, [roleA, roleA], 'asked twice')
})

t.test('keeps at most maxRoles, dropping the least recently used', async (t) => {
  const source = new ScriptedSource()
  source.answer = (roleArn) => documentsOf(roleArn)
  const { events, hooks } = recordingHooks()
  const cache = new BaseRoleCache(source, { ...settings, maxRoles: 2 }, { now: fakeClock().now, hooks })
  await cache.get(roleA)
  await cache.get(roleB)
  await cache.get(roleA)
  await cache.get(roleC)
  t.equal(cache.size, 2, 'two roles kept')
  await cache.get(roleA)
  await cache.get(roleB)
  t.same(events, ['miss a', 'miss b', 'hit a', 'miss c', 'hit a', 'miss b'],
    'b, used least recently when c came, was dropped; a stayed')
  t.same(source.asked, [roleA, roleB, roleC, roleB], 'read again only the dropped role')
})

t.test('maxRoles 0 keeps nothing', async (t) => {
  const source = new ScriptedSource()
  source.answer = (roleArn) => documentsOf(roleArn)
  const cache = new BaseRoleCache(source, { ...settings, maxRoles: 0 }, { now: fakeClock().now })
  await cache.get(roleA)
  await cache.get(roleA)
  t.equal(cache.size, 0, 'empty')
  t.same(source.asked, [roleA, roleA], 'every get reads')
})

t.test('serves an expired copy while the source fails, up to maxStaleSeconds past the TTL', async (t) => {
  const source = new ScriptedSource()
  let version = 1
  let down = false
  source.answer = (roleArn) => (down ? new Error('connect ECONNREFUSED') : documentsOf(roleArn, version))
  const clock = fakeClock()
  const { events, hooks } = recordingHooks()
  const cache = new BaseRoleCache(source, settings, { now: clock.now, hooks })
  const fresh = await cache.get(roleA)
  down = true
  clock.at(60_000)
  t.equal(await cache.get(roleA), fresh, 'stale copy at the end of the TTL')
  clock.at(90_000)
  t.equal(await cache.get(roleA), fresh, 'stale copy exactly maxStaleSeconds past the TTL')
  clock.at(90_001)
  const error = await cache.get(roleA).then(() => undefined, (error: unknown) => error)
  t.type(error, BaseRoleUnavailableError, 'unavailable past the stale limit')
  t.equal((error as Error).message, `the policies of ${roleA} cannot be read: the base-role source failed: connect ECONNREFUSED`,
    'wraps a plain error with its message')
  t.equal(((error as Error).cause as Error).message, 'connect ECONNREFUSED', 'keeps the cause')
  t.equal(cache.size, 0, 'the copy too old to serve is dropped')
  const reason = `the policies of ${roleA} cannot be read: the base-role source failed: connect ECONNREFUSED`
  t.same(events, ['miss a', 'miss a', `error a stale: ${reason}`, 'miss a', `error a stale: ${reason}`, 'miss a', `error a failed: ${reason}`],
    'each failed lookup reported, with whether a stale copy answered')

  down = false
  version = 2
  clock.at(100_000)
  t.strictSame(await cache.get(roleA), documentsOf(roleA, 2), 'reads again once the source is back')
  clock.at(159_999)
  t.strictSame(await cache.get(roleA), documentsOf(roleA, 2), 'and the TTL counts from that read')
  t.equal(source.asked.length, 5, 'no read while fresh')
})

t.test('over IAM: a stopped moto is bridged by the stale copy, then fails closed', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const iam = iamClientFor(moto.endpoint)
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] })
  await iam.send(new CreateRoleCommand({ RoleName: 'a', AssumeRolePolicyDocument: '{}' }))
  await iam.send(new PutRolePolicyCommand({ RoleName: 'a', PolicyName: 'read', PolicyDocument: policy }))
  const clock = fakeClock()
  const { events, hooks } = recordingHooks()
  const cache = new BaseRoleCache(new IamBaseRoles(iam), settings, { now: clock.now, hooks })
  const documents = await cache.get(roleA)
  t.strictSame(documents, { roleArn: roleA, policies: [policy] }, 'read from moto')
  await moto.stop()
  clock.at(75_000)
  t.equal(await cache.get(roleA), documents, 'stale copy while IAM is down')
  clock.at(95_000)
  await t.rejects(cache.get(roleA), {
    name: 'BaseRoleUnavailableError',
    message: `the policies of ${roleA} cannot be read: IAM did not answer GetRole on role a: connect ECONNREFUSED ${new URL(moto.endpoint).host}`,
  }, 'fails closed past the stale limit')
  t.same(events.map((event) => event.replace(/: .*/, '')), ['miss a', 'miss a', 'error a stale', 'miss a', 'error a failed'],
    'hooks see the outage')
})
