/**
 * backplan as a library: the pipeline the CLI runs, for scripts and other tools.
 *
 *   readValidManifest(file)     load → validate (every mistake at once, as BackplanErrors)
 *   planFile(file)              … → resolve → plan: the Plan `backplan plan` prints
 *   runFile(file, { onEvent })  plan, then execute that same plan (`backplan run`)
 *   openDestination(spec)       the snapshots at a destination: list, verify, read records
 *
 * Expected failures are BackplanError (with a `code` from errors.ts); the CLI maps them to exit codes.
 */
export { BackplanError, BackplanErrors, formatError, isBackplanError } from './errors.js';
export type { ErrorCode, SourcePos } from './errors.js';
export type { Manifest } from './manifest.js';
export { planFile, readValidManifest } from './commands/plan.js';
export type { PlannedRun, PlanOptions } from './commands/plan.js';
export type { Plan, PlannedStep } from './plan/types.js';
export { runFile } from './commands/run.js';
export type { RunOptions, RunSummary } from './commands/run.js';
export type { RunEvent } from './execute/events.js';
export { openDestination, closeDestinations } from './destination/registry.js';
export type { Destination, SnapshotEntry } from './destination/types.js';
export { verifySnapshot } from './record/verify.js';
export type { SnapshotRecord } from './record/snapshot-record.js';
