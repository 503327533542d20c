import type { PlannedStep } from '../plan/types.js';
import type { SnapshotEntry } from '../destination/types.js';
import { PARTIAL_PREFIX } from '../record/layout.js';
import { formatDuration } from '../util/duration.js';
import { acquireLock, LOCK_FILE, releaseLock } from '../record/lock.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface LockOptions {
  /** How long to wait for a held lock (--wait-lock); 0 = fail at once with exit 75. */
  waitMs: number;
}

export function planLock(input: PlanInput, waitMs: number): PlannedStep<LockOptions> {
  return {
    id: 'lock',
    kind: 'lock',
    needs: [],
    always: false,
    summary: `take the destination lock${waitMs > 0 ? `, waiting up to ${waitMs / 1000}s` : ''}`,
    commands: [`lock ${input.destination.location(LOCK_FILE)}`],
    options: { waitMs },
  };
}

export function planUnlock(input: PlanInput, after: string[]): PlannedStep<Record<string, never>> {
  return {
    id: 'unlock',
    kind: 'unlock',
    needs: after,
    always: true,
    summary: 'release the destination lock',
    commands: [`unlock ${input.destination.location(LOCK_FILE)}`],
    options: {},
  };
}

/** Takes the lock, then clears what interrupted runs left (safe: nobody else can be writing). */
export const runLock: StepRun<LockOptions> = async (step, ctx, signal) => {
  const { destination: dest, plan } = ctx;
  const warn = (message: string) => ctx.emit({ type: 'step-log', step: step.id, level: 'warn', message });
  await acquireLock(dest, plan.manifest.name, { waitMs: step.options.waitMs, signal, warn });
  await dest.removeSnapshots(leftoversOf(await dest.list(), dest.partialGraceMs, warn));
  await dest.prepare(plan.snapshot.id, warn);
};

/** Folder names of what an interrupted run or prune left behind. */
function leftoversOf(entries: SnapshotEntry[], graceMs: number, warn: (message: string) => void): string[] {
  const leftovers: string[] = [];
  for (const entry of entries) {
    if (entry.recorded) continue;
    const ageMs = Date.now() - entry.time.getTime();
    if (entry.name.startsWith(PARTIAL_PREFIX) && ageMs < graceMs) {
      // Where the lock cannot be trusted, a young partial may be another run's work in progress.
      warn(`keeping ${entry.dir} for now: it may still be written (removed once ${formatDuration(graceMs)} old)`);
    } else if (entry.name.startsWith(PARTIAL_PREFIX)) {
      warn(`removing ${entry.dir}, left by an interrupted run`);
      leftovers.push(entry.name);
    } else if (!entry.recordFile) {
      // A snapshot folder without snapshot.json: a prune killed halfway through deleting it.
      // One whose snapshot.json is there but unreadable is not ours to judge.
      warn(`removing ${entry.dir}, which has no snapshot.json (left by an interrupted run or prune)`);
      leftovers.push(entry.name);
    }
  }
  return leftovers;
}

export const runUnlock: StepRun<Record<string, never>> = async (_step, ctx) => {
  await releaseLock(ctx.destination);
};
