/** The sync sidecar's public surface, for src/cli.ts and the benchmark. */
export { runSync } from './run.js'
export type { RunSyncOptions, SyncSidecar } from './run.js'
export { createSyncEngine, syncOnce } from './once.js'
export type { SyncEngineSettings, SyncOnceOptions } from './once.js'
export type { Judge, PassReport, SyncEngine } from './engine.js'
export type { StatusSink, SyncTarget } from './status.js'
export { planSync } from './plan.js'
export type { PlannedCall } from './plan.js'
