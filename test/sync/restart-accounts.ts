/**
 * The ServiceAccounts of the restart test, by version: version 1 guards app-0 … app-299; version 2
 * drops app-250 … app-299 and moves app-0 … app-99 to another role and bucket. (No tests here.)
 */
import type { SyncTarget } from '../../src/sync/status.js'
import { guardedAccount, writerRole } from './harness.js'

export function accountsOfVersion(version: number): SyncTarget[] {
  const count = version === 1 ? 300 : 250
  return Array.from({ length: count }, (_, i) =>
    version >= 2 && i < 100
      ? guardedAccount(`team-${i % 5}`, `app-${i}`, { role: writerRole, bucket: `v2-app-${i}` })
      : guardedAccount(`team-${i % 5}`, `app-${i}`),
  )
}
