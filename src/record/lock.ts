import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackplanError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import type { Destination } from '../destination/types.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  job: string;
}

const POLL_MS = 1000;
/** How soon to look again while another run is taking over a stale lock. */
const TAKEOVER_POLL_MS = 20;

/** The destination's lock file, and the second lock that serialises taking over a stale one. */
export const LOCK_FILE = '.lock';
const TAKEOVER_FILE = '.lock.takeover';

/** The locks this process holds, by location: a lock file naming our pid is ours only if listed here. */
const held = new Map<string, LockHolder>();

/**
 * Takes `.lock` by creating it exclusively (O_EXCL, atomic on local filesystems; at a remote
 * destination the remote shell's noclobber does the same). A lock left by a dead process on
 * this host is taken over with a warning; a live one makes us wait up to `waitMs`, then fail
 * with LOCKED (exit 75, as borgmatic does).
 */
export async function acquireLock(
  dest: Destination,
  job: string,
  opts: { waitMs: number; signal?: AbortSignal; warn?: (message: string) => void; onWait?: (message: string) => void },
): Promise<LockHolder> {
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), job };
  const deadline = Date.now() + opts.waitMs;
  let waiting = false;
  const key = dest.location(LOCK_FILE);
  // Taken earlier by this same process (run takes it before planning, then its lock step runs).
  const ours = held.get(key);
  if (ours && sameHolder(await readHolder(dest), ours)) return ours;
  for (;;) {
    if (await dest.createText(LOCK_FILE, JSON.stringify(me))) {
      held.set(key, me);
      return me;
    }
    const holder = await readHolder(dest);
    if (holder && isStale(dest, LOCK_FILE, holder)) {
      if (await removeStale(dest, holder)) {
        opts.warn?.(`taking over the lock of process ${holder.pid} (started ${holder.startedAt}), which is no longer running`);
      } else {
        await sleep(TAKEOVER_POLL_MS);
      }
      continue;
    }
    if (Date.now() >= deadline) throw lockedError(key, holder, opts.waitMs);
    if (!waiting) opts.onWait?.(`waiting up to ${formatDuration(opts.waitMs)} for ${key}, held by ${describeHolder(holder)}`);
    waiting = true;
    await sleep(POLL_MS, undefined, { signal: opts.signal }).catch(() => {
      throw new BackplanError('INTERRUPTED', 'interrupted while waiting for the lock');
    });
  }
}

/** Removes the lock only if it is ours: a taken-over lock must not be freed by its old owner. */
export async function releaseLock(dest: Destination): Promise<void> {
  const holder = await readHolder(dest);
  if (holder && holder.pid === process.pid && holder.host === hostname()) await dest.removeFile(LOCK_FILE);
  held.delete(dest.location(LOCK_FILE));
}

/**
 * Deletes a stale lock, under a second lock (`.lock.takeover`) so that of the runs finding the
 * same dead holder only one deletes it. Without it each would delete "the" stale lock and create
 * its own, a later one deleting the lock an earlier one had just taken: two runs writing one
 * destination. False when another run is taking over, or already has.
 */
async function removeStale(dest: Destination, stale: LockHolder): Promise<boolean> {
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), job: stale.job };
  const key = dest.location(TAKEOVER_FILE);
  if (!(await dest.createText(TAKEOVER_FILE, JSON.stringify(me)))) {
    // Left by a run killed in the middle of a takeover.
    const other = await readHolder(dest, TAKEOVER_FILE);
    if (other && isStale(dest, TAKEOVER_FILE, other)) await dest.removeFile(TAKEOVER_FILE);
    return false;
  }
  held.set(key, me);
  try {
    if (!sameHolder(await readHolder(dest), stale)) return false;
    await dest.removeFile(LOCK_FILE);
    return true;
  } finally {
    held.delete(key);
    await dest.removeFile(TAKEOVER_FILE);
  }
}

function sameHolder(a: LockHolder | undefined, b: LockHolder | undefined): boolean {
  return a !== undefined && b !== undefined && a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt && a.job === b.job;
}

export async function readHolder(dest: Destination, file = LOCK_FILE): Promise<LockHolder | undefined> {
  try {
    const text = await dest.readText(file);
    return text === undefined ? undefined : (JSON.parse(text) as LockHolder);
  } catch (e) {
    // An unreadable lock is no holder; an unreachable remote host is a failure of its own.
    if (e instanceof BackplanError) throw e;
    return undefined;
  }
}

function isStale(dest: Destination, file: string, holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  // Our pid on a lock we did not take: left by an earlier process that had this pid (pids repeat
  // across container restarts), and kill(pid, 0) would find us alive.
  if (holder.pid === process.pid) return !sameHolder(holder, held.get(dest.location(file)));
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function describeHolder(holder: LockHolder | undefined): string {
  return holder ? `process ${holder.pid} on ${holder.host} (job ${holder.job}, started ${holder.startedAt})` : 'another process';
}

function lockedError(location: string, holder: LockHolder | undefined, waitedMs: number): BackplanError {
  const who = describeHolder(holder);
  const waited = waitedMs > 0 ? ` after waiting ${Math.round(waitedMs / 1000)}s` : '';
  return new BackplanError('LOCKED', `${location} is held by ${who}${waited}`, {
    hint: 'try again later, or pass --wait-lock 10m to wait for it',
  });
}
