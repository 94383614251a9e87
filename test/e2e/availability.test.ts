// What happens when parts go away, end to end (issue 6, scenarios 6 and 7): two sync processes share
// the chart's Lease, the leader is SIGKILLed and the standby takes over; then the webhook process stops
// and the chart's matchConditions and failurePolicy decide what kubectl can still do.
import t from 'tap'
import {
  type E2eEnv,
  type SyncProcess,
  prefix,
  roleArn,
  serviceAccount,
  startE2eEnv,
  until,
} from '../support/e2e-env.js'

// On a new machine the control plane, helm and moto are first built or installed (minutes).
t.setTimeout(60 * 60_000)

// The chart's lease settings for this suite (test/support/e2e-env.ts): a leader that stops renewing
// loses the Lease after 3 s; standbys try every second.
const leaseDurationMs = 3_000
const renewMs = 1_000

const reader = roleArn('e2e-reader')
const started = Date.now()
const env: E2eEnv = await startE2eEnv({
  baseRoles: { 'e2e-reader': { read: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] } } },
  syncProcesses: 2,
})
t.teardown(() => env.stop())
for (const [name, version] of Object.entries(env.versions)) t.comment(`${name}: ${version}`)
t.comment(`environment ready in ${Date.now() - started} ms`)

await env.kubectlOk(['create', 'namespace', 'shop'])

const policyFor = (bucket: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }] })
const guarded = (namespace: string, name: string, policy = policyFor(name)) =>
  serviceAccount(namespace, name, {
    [`${prefix}/role-arn`]: reader,
    [`${prefix}/session-policy`]: policy,
    [`${prefix}/disable-session-tags`]: 'true',
  })

/** Every association in EKS as "namespace/serviceAccount", sorted; a duplicate would show twice. */
const associationNames = () => env.emulator.associations().map((a) => `${a.namespace}/${a.serviceAccount}`).sort()

/** EKS write calls one sync process made, by its own metrics. */
async function writesOf(sync: SyncProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sync.port}/metrics`)).text()
  let writes = 0
  for (const match of text.matchAll(/^session_guard_sync_eks_calls_total\{operation="(create|update|delete|tag)",outcome="[^"]+"\} (\d+)$/gm)) {
    writes += Number(match[2])
  }
  return writes
}

const leaseHolder = async () =>
  (await env.kubectlOk(['get', 'lease', 'session-guard-sync', '--namespace', 'session-guard', '-o', 'jsonpath={.spec.holderIdentity}'])).trim()

t.test('scenario 7: only the leader writes; when it is killed the standby takes over without duplicates', async (t) => {
  const leader = await until(() => env.syncs.find((s) => s.isLeading()), 'one sync process to lead')
  const standby = env.syncs.find((s) => s !== leader) as SyncProcess
  t.equal(await leaseHolder(), leader.identity(), 'the Lease names the leader')
  t.equal(standby.isLeading(), false, 'the other stands by')

  env.emulator.resetCalls()
  const first = ['cart', 'billing', 'stock']
  t.same(await env.apply(first.map((name) => guarded('shop', name))), {
    code: 0,
    stdout: first.map((name) => `serviceaccount/${name} created\n`).join(''),
    stderr: '',
  }, 'kubectl creates the three')
  await until(() => associationNames().length === 3, 'three associations')
  t.same(associationNames(), ['shop/billing', 'shop/cart', 'shop/stock'], 'one association each')
  t.equal(await writesOf(leader), 3, 'the leader made the three creates')
  t.equal(await writesOf(standby), 0, 'the standby wrote nothing')

  leader.kill('SIGKILL')
  t.equal(await leader.exited, 'SIGKILL', 'the leader is gone without releasing the Lease')
  const killedAt = Date.now()
  // While nobody leads: one new ServiceAccount, one deleted.
  t.same(await env.apply(guarded('shop', 'orders')), { code: 0, stdout: 'serviceaccount/orders created\n', stderr: '' }, 'admission does not need the sync')
  await env.kubectlOk(['delete', 'serviceaccount', 'billing', '--namespace', 'shop'])

  await until(() => standby.isLeading(), 'the standby to take over', 15_000, 20)
  const tookOverMs = Date.now() - killedAt
  t.ok(
    tookOverMs <= leaseDurationMs + renewMs + 2_000,
    `took over ${tookOverMs} ms after the kill (bound: the ${leaseDurationMs} ms lease, one ${renewMs} ms retry, 2 s for a busy machine)`,
  )
  t.equal(await leaseHolder(), standby.identity(), 'the Lease names the new leader')

  await until(() => associationNames().join() === 'shop/cart,shop/orders,shop/stock', 'the new leader to converge')
  const calls = env.emulator.calls()
  t.same(
    { create: calls.CreatePodIdentityAssociation, update: calls.UpdatePodIdentityAssociation, delete: calls.DeletePodIdentityAssociation },
    { create: 4, update: 0, delete: 1 },
    'one create per ServiceAccount ever created, one delete, nothing else',
  )
  t.equal(await writesOf(standby), 2, 'the new leader made exactly the create and the delete')
  const annotated = await until(async () => {
    const ids = await env.kubectlOk(['get', 'serviceaccounts', '--namespace', 'shop', '-o', `jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.session-guard\\.dev/association-id}{"\\n"}{end}`])
    const lines = ids.trim().split('\n').sort()
    return lines.every((line) => !line.endsWith('=')) ? lines : undefined
  }, 'every ServiceAccount to name its association')
  const idOf = (name: string) => env.emulator.associations().find((a) => a.serviceAccount === name)?.associationId
  t.same(annotated, ['cart', 'orders', 'stock'].map((name) => `${name}=${idOf(name)}`), 'the association-id annotations match EKS')
})

t.test('scenario 6: with the webhook down, failurePolicy Fail blocks guarded ServiceAccounts only', async (t) => {
  const webhookPort = new URL(env.webhookUrl).port
  await env.webhook.stop()
  t.equal(await env.webhook.exited, 0, 'the webhook stopped')

  t.same(await env.apply(serviceAccount('shop', 'plain')), { code: 0, stdout: 'serviceaccount/plain created\n', stderr: '' }, 'no annotation: created')
  t.same(
    await env.apply(serviceAccount('shop', 'labelled', { 'example.com/owner': 'team-shop' })),
    { code: 0, stdout: 'serviceaccount/labelled created\n', stderr: '' },
    'annotations under another prefix: created',
  )
  const refused =
    'Error from server (InternalError): error when creating "STDIN": Internal error occurred: failed calling webhook "mutate.session-guard.dev": ' +
    `failed to call webhook: Post "${env.webhookUrl}/mutate?timeout=5s": dial tcp 127.0.0.1:${webhookPort}: connect: connection refused\n`
  t.same(await env.apply(guarded('shop', 'payments')), { code: 1, stdout: '', stderr: refused }, 'a guarded one is refused')
  t.equal(await env.annotationsOf('shop', 'payments'), undefined, 'and not created')
  const edit = await env.kubectl(['annotate', '--overwrite', 'serviceaccount', 'cart', '--namespace', 'shop', `${prefix}/session-policy=${policyFor('cart-v2')}`])
  t.same(
    edit,
    {
      code: 1,
      stdout: '',
      stderr:
        'Error from server (InternalError): Internal error occurred: failed calling webhook "mutate.session-guard.dev": ' +
        `failed to call webhook: Post "${env.webhookUrl}/mutate?timeout=5s": dial tcp 127.0.0.1:${webhookPort}: connect: connection refused\n`,
    },
    'an edit of a guarded one is refused too',
  )

  // DELETE never goes to the webhooks, and the sync's own writes are exempt: it keeps working.
  t.same(await env.kubectl(['delete', 'serviceaccount', 'stock', '--namespace', 'shop']), {
    code: 0,
    stdout: 'serviceaccount "stock" deleted from shop namespace\n',
    stderr: '',
  }, 'deleting a guarded ServiceAccount needs no webhook')
  await until(() => associationNames().join() === 'shop/cart,shop/orders', 'the sync to delete the stock association')
})

t.test('scenario 6: with failurePolicy Ignore a guarded ServiceAccount gets in unchecked, and the sync still judges it', async (t) => {
  const upgraded = await env.helmUpgrade({ webhook: { failurePolicy: 'Ignore' } })
  t.equal(upgraded.code, 0, `helm upgrade succeeds ${upgraded.stderr}`)
  const policies = await env.kubectlOk(['get', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', '-o', 'jsonpath={range .items[*]}{.webhooks[0].failurePolicy}{"\\n"}{end}'])
  t.equal(policies, 'Ignore\nIgnore\n', 'helm upgrade switched both webhooks')

  const outside = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:DeleteBucket'], Resource: '*' }] })
  t.same(await env.apply(guarded('shop', 'cleaner', outside)), { code: 0, stdout: 'serviceaccount/cleaner created\n', stderr: '' }, 'admitted unchecked')
  t.notOk(`${prefix}/normalized-policy` in ((await env.annotationsOf('shop', 'cleaner')) ?? {}), 'nothing normalized it')
  const events = await until(async () => {
    const all = await env.eventsOf('shop', 'cleaner')
    return all.length > 0 ? all : undefined
  }, 'the sync to report on it')
  t.same(events, [
    'Warning Rejected The session-guard annotations fail the admission checks, so they are not applied to EKS and any existing association is left as it is. ' +
      `ACTION_OUTSIDE_BASE_ROLE: ${prefix}/session-policy: the session policy allows 1 action the base role does not: s3:DeleteBucket is not in the role. ` +
      'A session policy can only narrow the role: remove it, or use a role that allows it',
  ], 'the sync refuses it with a Warning event')
  t.equal(associationNames().includes('shop/cleaner'), false, 'no association was made for it')

  const webhook = await env.startWebhook()
  t.ok(webhook.running(), 'the webhook is back on the same port')
  t.same(await env.apply(guarded('shop', 'payments')), { code: 0, stdout: 'serviceaccount/payments created\n', stderr: '' }, 'guarded ServiceAccounts are judged again')
  t.equal((await env.annotationsOf('shop', 'payments'))?.[`${prefix}/normalized-policy`], policyFor('payments'), 'and normalized')
  await until(() => associationNames().includes('shop/payments'), 'its association')
})
