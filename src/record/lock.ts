import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackplanError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { currentBootId, ownIdentity, processFacts } from '../util/processes.js';
import type { ProcessFacts } from '../util/processes.js';
import type { Destination } from '../destination/types.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  job: string;
  /**
   * The holder process as /proc names it: the boot and its start time in clock ticks. Tells the
   * holder from a later process given the same pid, whatever the wall clock did meanwhile.
   * Absent off Linux and in locks written by earlier versions.
   */
  bootId?: string;
  startTicks?: number;
}

/**
 * An empty or unparsable lock counts as held this long after it was last written: the file
 * exists a moment before its text does, so a young one may be a run taking the lock right now.
 */
export const UNREADABLE_LOCK_GRACE_MS = 10 * 60_000;
/** Boot time is read in whole seconds: a holder may seem to start this much after its own lock. */
const START_TOLERANCE_MS = 2000;

const POLL_MS = 1000;
/** How soon to look again while another run is taking over a stale lock. */
const TAKEOVER_POLL_MS = 20;

/** The destination's lock file, and the second lock that serialises taking over a stale one. */
export const LOCK_FILE = '.lock';
const TAKEOVER_FILE = '.lock.takeover';

/** The locks this process holds, by location: a lock file naming our pid is ours only if listed here. */
const held = new Map<string, LockHolder>();

/** A lock file as found, judged from this host. */
export type LockState =
  | { kind: 'free'; location: string }
  | {
      kind: 'held';
      location: string;
      text: string;
      holder: LockHolder;
      /** On another host: nothing here can tell whether it still runs, so it is never stale. */
      elsewhere: boolean;
      /** What now has the holder's pid on this host. */
      process?: ProcessFacts;
      /** Why it may be taken over; undefined while its holder may still be working. */
      stale?: string;
    }
  | { kind: 'unreadable'; location: string; text: string; problem: string; mtimeMs: number; ageMs: number; stale?: string };

export type FoundLock = Exclude<LockState, { kind: 'free' }>;

/**
 * Takes `.lock` by creating it exclusively (O_EXCL, atomic on local filesystems; at a remote
 * destination the remote shell's noclobber does the same). A stale lock (see `inspectLock`) is
 * taken over with a warning saying why; a live one makes us wait up to `waitMs`, then fail
 * with LOCKED (exit 75, as borgmatic does).
 */
export async function acquireLock(
  dest: Destination,
  job: string,
  opts: { waitMs: number; signal?: AbortSignal; warn?: (message: string) => void; onWait?: (message: string) => void },
): Promise<LockHolder> {
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), job, ...(await ownIdentity()) };
  const deadline = Date.now() + opts.waitMs;
  let waiting = false;
  let vanished = 0;
  const key = dest.location(LOCK_FILE);
  // Taken earlier by this same process (run takes it before planning, then its lock step runs).
  const ours = held.get(key);
  if (ours && sameHolder(parseHolder((await readLockText(dest, LOCK_FILE)).text), ours)) return ours;
  for (;;) {
    if (await dest.createText(LOCK_FILE, JSON.stringify(me))) {
      held.set(key, me);
      return me;
    }
    const found = await inspectLock(dest);
    if (found.kind === 'free') {
      // Released between our create and our read; again and again means we cannot read it.
      if (++vanished < 5) continue;
      throw new BackplanError('STEP_FAILED', `cannot create ${key}, yet cannot read it either`, { hint: 'check the permissions of the destination and its .lock' });
    }
    if (found.stale) {
      if ((await breakLock(dest, found)) === 'removed') opts.warn?.(takeoverMessage(found));
      else await sleep(TAKEOVER_POLL_MS);
      continue;
    }
    if (Date.now() >= deadline) throw lockedError(found, opts.waitMs);
    if (!waiting) opts.onWait?.(`waiting up to ${formatDuration(opts.waitMs)} for ${key}, ${describeLock(found)}`);
    waiting = true;
    await sleep(POLL_MS, undefined, { signal: opts.signal }).catch(() => {
      throw new BackplanError('INTERRUPTED', 'interrupted while waiting for the lock');
    });
  }
}

/** Removes the lock only if it is ours: a taken-over lock must not be freed by its old owner. */
export async function releaseLock(dest: Destination): Promise<void> {
  const holder = parseHolder((await readLockText(dest, LOCK_FILE)).text);
  if (holder && holder.pid === process.pid && holder.host === hostname()) await dest.removeFile(LOCK_FILE);
  held.delete(dest.location(LOCK_FILE));
}

/**
 * Reads a lock and judges it. On this host, a holder is stale when its pid is dead (or a
 * zombie), when the pid now belongs to another process (its recorded identity differs; or,
 * for a lock without one, the process started after the lock's `startedAt`, or is not a
 * backplan run), or when it is our own pid on a lock this process did not take. A holder on
 * another host is never stale. An empty or unparsable lock is stale once
 * UNREADABLE_LOCK_GRACE_MS old by its mtime.
 */
export async function inspectLock(dest: Destination, file = LOCK_FILE): Promise<LockState> {
  const location = dest.location(file);
  const read = await readLockText(dest, file);
  if (read.text === undefined) return { kind: 'free', location };
  const holder = parseHolder(read.text);
  if (holder) {
    const elsewhere = holder.host !== hostname();
    return { kind: 'held', location, text: read.text, holder, elsewhere, ...(elsewhere ? {} : await judgeHolder(dest, file, holder)) };
  }
  const stat = await dest.stat(file);
  if (!stat) return { kind: 'free', location };
  const problem = read.problem ?? (read.text.trim() === '' ? 'is empty' : 'is not a backplan lock (unparsable)');
  const stale =
    stat.ageMs >= UNREADABLE_LOCK_GRACE_MS
      ? `it ${problem} and was last written ${formatDuration(stat.ageMs)} ago (an unreadable lock is stale after ${formatDuration(UNREADABLE_LOCK_GRACE_MS)})`
      : undefined;
  return { kind: 'unreadable', location, text: read.text, problem, mtimeMs: stat.mtimeMs, ageMs: stat.ageMs, stale };
}

/**
 * Deletes a lock judged as `judged`, under a second lock (`.lock.takeover`) so that of the runs
 * finding the same stale lock only one deletes it. Without it each would delete "the" stale lock
 * and create its own, a later one deleting the lock an earlier one had just taken: two runs
 * writing one destination. `changed` when the lock is no longer the one judged; `busy` while
 * another process is taking it over.
 */
export async function breakLock(dest: Destination, judged: FoundLock): Promise<'removed' | 'changed' | 'busy'> {
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), job: 'takeover', ...(await ownIdentity()) };
  const key = dest.location(TAKEOVER_FILE);
  if (!(await dest.createText(TAKEOVER_FILE, JSON.stringify(me)))) {
    // Left by a run killed in the middle of a takeover.
    const other = await inspectLock(dest, TAKEOVER_FILE);
    if (other.kind !== 'free' && other.stale) await dest.removeFile(TAKEOVER_FILE);
    return 'busy';
  }
  held.set(key, me);
  try {
    if (!(await stillSame(dest, judged))) return 'changed';
    await dest.removeFile(LOCK_FILE);
    return 'removed';
  } finally {
    held.delete(key);
    await dest.removeFile(TAKEOVER_FILE);
  }
}

/** The same text and, for an unreadable lock, the same mtime (an empty lock made again is another lock). */
async function stillSame(dest: Destination, judged: FoundLock): Promise<boolean> {
  const { text } = await readLockText(dest, LOCK_FILE);
  if (text !== judged.text) return false;
  return judged.kind === 'held' || (await dest.stat(LOCK_FILE))?.mtimeMs === judged.mtimeMs;
}

/** Who holds the lock, or what is wrong with it, for messages. */
export function describeLock(found: FoundLock): string {
  if (found.kind === 'unreadable') {
    return `which ${found.problem} (last written ${formatDuration(found.ageMs)} ago)`;
  }
  const { pid, host, job, startedAt } = found.holder;
  const running = found.process && !found.stale ? `, running ${commandOf(found.process)}` : '';
  return `held by process ${pid} on ${host} (job ${job}, started ${startedAt}${running})`;
}

function takeoverMessage(found: FoundLock): string {
  if (found.kind === 'unreadable') return `taking over ${found.location}: ${found.stale}`;
  return `taking over the lock of process ${found.holder.pid} (started ${found.holder.startedAt}), ${found.stale}`;
}

async function readLockText(dest: Destination, file: string): Promise<{ text?: string; problem?: string }> {
  try {
    return { text: await dest.readText(file) };
  } catch (e) {
    // An unreachable remote host is a failure of its own; a local read error makes the lock unreadable.
    if (e instanceof BackplanError) throw e;
    return { text: '', problem: `cannot be read (${(e as Error).message})` };
  }
}

function parseHolder(text: string | undefined): LockHolder | undefined {
  let value: Partial<Record<keyof LockHolder, unknown>>;
  try {
    value = JSON.parse(text ?? '') as typeof value;
  } catch {
    return undefined;
  }
  const { pid, host, startedAt, job, bootId, startTicks } = value ?? {};
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || typeof host !== 'string' || typeof startedAt !== 'string' || typeof job !== 'string') return undefined;
  const identity = typeof bootId === 'string' && Number.isSafeInteger(startTicks) ? { bootId, startTicks: startTicks as number } : {};
  return { pid: pid as number, host, startedAt, job, ...identity };
}

function sameHolder(a: LockHolder | undefined, b: LockHolder | undefined): boolean {
  return a !== undefined && b !== undefined && a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt && a.job === b.job;
}

/** For a holder on this host: whether (and why) it is stale, and what has its pid now. */
async function judgeHolder(dest: Destination, file: string, holder: LockHolder): Promise<{ stale?: string; process?: ProcessFacts }> {
  // Our pid on a lock we did not take: left by an earlier process that had this pid (pids repeat
  // across container restarts), and kill(pid, 0) would find us alive.
  if (holder.pid === process.pid) {
    return sameHolder(holder, held.get(dest.location(file))) ? {} : { stale: 'which is no longer running (its pid is now this process\'s)' };
  }
  if (!isAlive(holder.pid)) return { stale: 'which is no longer running' };
  const proc = await processFacts(holder.pid);
  // Without /proc, a live pid is all we know: it may be the holder.
  if (!proc) return {};
  return { stale: pidReused(holder, proc, await currentBootId()), process: proc };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive, another user's.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Why the live process with the holder's pid is not the holder; undefined when it may be. */
function pidReused(holder: LockHolder, proc: ProcessFacts, bootId: string | undefined): string | undefined {
  if (proc.zombie) return 'which is no longer running (it exited; its parent has not reaped it yet)';
  const other = `whose pid now belongs to ${commandOf(proc)}`;
  if (holder.bootId !== undefined && holder.startTicks !== undefined && bootId !== undefined) {
    if (holder.bootId !== bootId) return 'which is no longer running (the host has restarted since)';
    return proc.startTicks === holder.startTicks ? undefined : `${other}, another process (started ${proc.startedAt.toISOString()})`;
  }
  const startedAt = Date.parse(holder.startedAt);
  if (proc.startedAt.getTime() > startedAt + START_TOLERANCE_MS) {
    return `${other}, a process started ${proc.startedAt.toISOString()}, after the lock was taken`;
  }
  if (!proc.argv.some((arg) => arg.includes('backplan'))) return `${other}, which is not a backplan run`;
  return undefined;
}

function commandOf(proc: ProcessFacts): string {
  const command = proc.argv.join(' ');
  return `\`${command.length > 200 ? `${command.slice(0, 197)}...` : command || '?'}\``;
}

function lockedError(found: FoundLock, waitedMs: number): BackplanError {
  const waited = waitedMs > 0 ? ` after waiting ${Math.round(waitedMs / 1000)}s` : '';
  if (found.kind === 'unreadable') {
    const staleIn = formatDuration(Math.max(0, UNREADABLE_LOCK_GRACE_MS - found.ageMs));
    return new BackplanError(
      'LOCKED',
      `${found.location} ${found.problem} (last written ${formatDuration(found.ageMs)} ago)${waited}: a run may be taking the lock right now; it counts as stale in ${staleIn}, ${formatDuration(UNREADABLE_LOCK_GRACE_MS)} after it was last written`,
      { hint: 'try again later, pass --wait-lock 10m to wait for it, or remove it with backplan unlock' },
    );
  }
  return new BackplanError('LOCKED', `${found.location} is ${describeLock(found)}${waited}`, {
    hint: 'try again later, or pass --wait-lock 10m to wait for it',
  });
}
