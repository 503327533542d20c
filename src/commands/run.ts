import { setTimeout as sleep } from 'node:timers/promises';
import { askPgDumpVersionEarly } from '../db/pg-dump-version.js';
import { BackplanError } from '../errors.js';
import { eventSink } from '../execute/events.js';
import type { EventSink, RunEvent } from '../execute/events.js';
import { executeDag } from '../execute/executor.js';
import { prepareTapFifo } from '../execute/tap-fifo.js';
import type { PlannedStep, Plan } from '../plan/types.js';
import type { StepRecord } from '../record/snapshot-record.js';
import { STEP_RUNNERS } from '../steps/registry.js';
import type { RunContext, RunState } from '../steps/run-context.js';
import { notify } from '../notify/notify.js';
import type { NotifyState } from '../notify/notify.js';
import { planSource, readValidManifest } from './plan.js';
import type { ValidSource } from './plan.js';
import { openDestination } from '../destination/registry.js';
import type { Destination } from '../destination/types.js';
import { recordLastRun } from '../record/last-run.js';
import { explainDiskFull } from '../record/disk-full.js';
import { snapshotId } from '../record/layout.js';
import { acquireLock, releaseLock } from '../record/lock.js';

export interface RunOptions {
  waitLockMs?: number;
  concurrency?: number;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface RunSummary {
  plan: Plan;
  records: StepRecord[];
  status: 'ok' | 'failed' | 'interrupted' | 'locked';
  failure?: BackplanError;
  durationMs: number;
}

const DEFAULT_CONCURRENCY = 4;

/** plan, then execute that same plan: what `plan` printed is what runs. */
export async function runFile(file: string, opts: RunOptions = {}): Promise<RunSummary> {
  const started = Date.now();
  askPgDumpVersionEarly();
  const signal = opts.signal ?? new AbortController().signal;
  const emit = eventSink(opts.onEvent ?? (() => undefined));
  const source = await readValidManifest(file, opts.env);
  // tar and incremental copies read tar's stream through a FIFO; it is made while the run plans.
  if (source.manifest.repository?.strategy !== 'rsync') void prepareTapFifo();
  const destination = openDestination(source.manifest.destination, opts.env);
  const lock = await lockBeforePlanning(destination, source.manifest.name, opts, signal, emit);
  try {
    return await lockedRun(source, destination, opts, signal, started, lock, emit);
  } finally {
    await lock.release();
  }
}

async function lockedRun(
  valid: ValidSource,
  destination: Destination,
  opts: RunOptions,
  signal: AbortSignal,
  started: number,
  lock: EarlyLock,
  emit: EventSink,
): Promise<RunSummary> {
  const { plan, resolution, source } = await planSource(valid, destination, { waitLockMs: opts.waitLockMs, env: opts.env });
  const listeners: ((step: PlannedStep, record: StepRecord) => void)[] = [];
  const state: RunState = { startedAt: new Date(), artefacts: [], steps: new Map() };
  const ctx: RunContext = { plan, destination, secrets: resolution.secrets, emit, state, onSettled: (l) => listeners.push(l) };

  const { id, kind, reason } = plan.snapshot;
  emit({ type: 'run-start', job: plan.manifest.name, snapshot: id, kind, steps: plan.steps.length, ...(reason ? { reason } : {}) });
  const ping = async (state: NotifyState, body?: string) => {
    const result = await notify(source.manifest.notify, state, body);
    if (result) emit({ type: 'notify', state, ok: result.ok, attempts: result.attempts, error: result.error });
  };
  await ping('start');
  const executed = await executeDag(plan.steps, {
    concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY,
    signal,
    emit,
    runStep: (step, stepSignal) => {
      // The lock step reports how taking the lock went (it finds the lock already ours).
      if (step.kind === 'lock') {
        for (const message of lock.warnings) emit({ type: 'step-log', step: step.id, level: 'warn', message });
        if (lock.failure) return Promise.reject(lock.failure);
      }
      return runnerFor(step)(step as PlannedStep<never>, ctx, stepSignal);
    },
    onSettled: (step, record) => {
      state.steps.set(step.id, record);
      for (const listener of listeners) listener(step, record);
    },
    // Always-hooks undo before-hooks, which run only once the lock is ours; and unlock has
    // nothing to release when the lock step failed (the lock taken before planning, if any, is
    // released by runFile itself).
    alwaysRuns: () => state.steps.get('lock')?.status === 'ok',
  });
  const { records } = executed;
  const failure = executed.failure?.code === 'DISK_FULL' ? await explainDiskFull(executed.failure, destination, plan.snapshot.partialDir) : executed.failure;
  const status: RunSummary['status'] = failure?.code === 'LOCKED' ? 'locked' : signal.aborted || failure?.code === 'INTERRUPTED' ? 'interrupted' : failure ? 'failed' : 'ok';
  const durationMs = Date.now() - started;
  await ping(status === 'ok' ? 'finish' : 'fail', failure?.message);
  // A locked run says nothing about the destination's health: the holder will record its own end.
  if (status !== 'locked') {
    const lastRun = {
      status,
      startedAt: new Date(started).toISOString(),
      endedAt: new Date(started + durationMs).toISOString(),
      durationMs,
      snapshot: status === 'ok' ? plan.snapshot.id : undefined,
      error: failure?.message,
    };
    await recordLastRun(destination, lastRun).catch(() => undefined);
  }
  emit({ type: 'run-end', status, snapshot: status === 'ok' ? plan.snapshot.id : undefined, durationMs, error: failure?.message });
  return { plan, records, status, failure, durationMs };
}

interface EarlyLock {
  /** Why the lock could not be taken (LOCKED, INTERRUPTED while waiting): the lock step fails with it. */
  failure?: BackplanError;
  /** Said while taking it (a stale lock taken over). */
  warnings: string[];
  release(): Promise<void>;
}

/**
 * Takes the destination lock before planning. A run that waited for the lock (or took over a
 * stale one) must plan against the destination as the holder left it: that run's snapshot is
 * the new parent, and may carry the very id, to the second, a plan made before the wait would
 * have used, so that this run's finalize fails renaming onto it. The plan's own lock step then
 * finds the lock already held by this process.
 */
async function lockBeforePlanning(destination: Destination, job: string, opts: RunOptions, signal: AbortSignal, emit: EventSink): Promise<EarlyLock> {
  const warnings: string[] = [];
  try {
    // Said at once (before run-start, as the plan waits for the lock): a silent wait looks hung.
    const onWait = (message: string) => emit({ type: 'step-log', step: 'lock', level: 'warn', message });
    await acquireLock(destination, job, { waitMs: opts.waitLockMs ?? 0, signal, warn: (m) => warnings.push(m), onWait });
  } catch (e) {
    // The plan's lock step fails with it, saying why.
    if (e instanceof BackplanError) return { warnings, failure: e, release: async () => undefined };
    throw e;
  }
  await freeSecond(destination);
  return { warnings, release: () => releaseLock(destination) };
}

/**
 * Snapshot ids name the second the plan was made; a run right after a quick one (or after
 * waiting for its lock) waits for a second no snapshot is named after, rather than failing to
 * rename onto it in finalize.
 */
async function freeSecond(destination: Destination): Promise<void> {
  for (;;) {
    const stamp = snapshotId(new Date(), 'full').slice(0, -'full'.length);
    const names = await destination.names().catch(() => [] as string[]);
    if (!names.some((n) => n.startsWith(stamp))) return;
    await sleep(1000 - (Date.now() % 1000) + 10);
  }
}

function runnerFor(step: PlannedStep) {
  const runner = STEP_RUNNERS[step.kind];
  if (!runner) throw new BackplanError('STEP_FAILED', `this backplan cannot run ${step.kind} steps yet`, { step: step.id });
  return runner;
}
