import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { PlannedStep } from '../plan/types.js';
import { listSnapshots } from '../record/destination.js';
import type { SnapshotEntry } from '../record/destination.js';
import { PARTIAL_PREFIX, SNAPSHOT_JSON } from '../record/layout.js';
import { deleteRemoteSnapshots, makeRemoteDirs } from '../record/remote/destination.js';
import { remoteDestination } from '../util/destination.js';
import { acquireLock, releaseLock } from '../record/lock.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface LockOptions {
  path: string;
  /** How long to wait for a held lock (--wait-lock); 0 = fail at once with exit 75. */
  waitMs: number;
}

export function planLock(input: PlanInput, waitMs: number): PlannedStep<LockOptions> {
  const path = join(input.settings.destination, '.lock');
  return {
    id: 'lock',
    kind: 'lock',
    needs: [],
    always: false,
    summary: `take the destination lock${waitMs > 0 ? `, waiting up to ${waitMs / 1000}s` : ''}`,
    commands: [`lock ${path}`],
    options: { path, waitMs },
  };
}

export interface UnlockOptions {
  path: string;
}

export function planUnlock(input: PlanInput, after: string[]): PlannedStep<UnlockOptions> {
  const path = join(input.settings.destination, '.lock');
  return {
    id: 'unlock',
    kind: 'unlock',
    needs: after,
    always: true,
    summary: 'release the destination lock',
    commands: [`unlock ${path}`],
    options: { path },
  };
}

/** Takes the lock, then clears what interrupted runs left (safe: nobody else can be writing). */
export const runLock: StepRun<LockOptions> = async (step, ctx, signal) => {
  const { destination, snapshot } = ctx.plan;
  const remote = remoteDestination(destination);
  // A remote destination's folder is made by the lock script itself.
  if (!remote) await mkdir(destination, { recursive: true });
  const warn = (message: string) => ctx.emit({ type: 'step-log', step: step.id, level: 'warn', message });
  await acquireLock(step.options.path, ctx.plan.manifest.name, { waitMs: step.options.waitMs, signal, warn });
  const leftovers = await leftoversOf(await listSnapshots(destination), warn);
  if (remote) await deleteRemoteSnapshots(remote, leftovers.map((e) => basename(e.dir)));
  else for (const entry of leftovers) await rm(entry.dir, { recursive: true, force: true });
  if (snapshot.uploadDir === undefined) {
    await mkdir(snapshot.partialDir, { mode: 0o700 });
    return;
  }
  await clearStaging(dirname(snapshot.partialDir), warn);
  await mkdir(snapshot.partialDir, { recursive: true, mode: 0o700 });
  const upload = remoteDestination(snapshot.uploadDir)!;
  await makeRemoteDirs(upload.host, [upload.path]);
};

/** Snapshot folders an interrupted run or prune left behind. */
async function leftoversOf(entries: SnapshotEntry[], warn: (message: string) => void): Promise<SnapshotEntry[]> {
  const leftovers: SnapshotEntry[] = [];
  for (const entry of entries) {
    if (entry.complete) continue;
    if (basename(entry.dir).startsWith(PARTIAL_PREFIX)) {
      warn(`removing ${entry.dir}, left by an interrupted run`);
    } else {
      // A snapshot folder without snapshot.json: a prune killed halfway through deleting it.
      // One whose snapshot.json is there but unreadable is not ours to judge.
      if (entry.recordFile || (await exists(join(entry.dir, SNAPSHOT_JSON)))) continue;
      warn(`removing ${entry.dir}, which has no snapshot.json (left by an interrupted run or prune)`);
    }
    leftovers.push(entry);
  }
  return leftovers;
}

/** The staged artefacts of interrupted runs to a remote destination. */
async function clearStaging(staging: string, warn: (message: string) => void): Promise<void> {
  for (const name of await readdir(staging).catch(() => [] as string[])) {
    if (!name.startsWith(PARTIAL_PREFIX)) continue;
    warn(`removing ${join(staging, name)}, staged by an interrupted run`);
    await rm(join(staging, name), { recursive: true, force: true });
  }
}

export const runUnlock: StepRun<UnlockOptions> = async (step) => {
  await releaseLock(step.options.path);
};

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
