/**
 * The one judgement of a snapshot's health, used by every command (list, verify, check, prune,
 * restore) and by a run choosing its parent. Pure: it reads the listing, nothing else.
 *
 *   complete      restorable: a valid snapshot.json, no failed verify, its whole chain complete
 *   damaged       snapshot.json unreadable or invalid, or its last verify found a mismatch
 *   broken-chain  an incremental whose parent (or an ancestor) is missing, damaged or partial
 *   partial       being written, or left by an interrupted run: not a backup
 *
 * Snapshots are per job: another job's snapshots at a shared destination are left out. One
 * whose job cannot be read (its snapshot.json is damaged, or it is partial) is shown to every
 * job and deleted by none.
 */
import type { CompleteSnapshot, SnapshotEntry } from '../destination/types.js';

export type SnapshotState = 'complete' | 'damaged' | 'broken-chain' | 'partial';

export type AssessedSnapshot = SnapshotEntry & {
  state: SnapshotState;
  /** Why it is not complete. */
  problem?: string;
};

/** The job's snapshots (and those of no readable job), oldest first, each with its state. */
export function assessSnapshots(entries: SnapshotEntry[], job: string): AssessedSnapshot[] {
  const mine = entries.filter((e) => e.record === undefined || e.record.job === job);
  const byId = new Map(mine.map((e) => [e.id, e]));
  const judged = new Map<string, AssessedSnapshot>();
  const judge = (entry: SnapshotEntry, seen: Set<string>): AssessedSnapshot => {
    const known = judged.get(entry.id);
    if (known) return known;
    const own = ownState(entry);
    const assessed = own.state === 'complete' ? chainState(entry, byId, seen, judge) : { ...entry, ...own };
    judged.set(entry.id, assessed);
    return assessed;
  };
  return mine.map((e) => judge(e, new Set()));
}

function ownState(entry: SnapshotEntry): { state: SnapshotState; problem?: string } {
  if (!entry.recordFile || entry.name !== entry.id) return { state: 'partial', problem: 'not a backup: being written, or left by an interrupted run or prune' };
  if (!entry.record) return { state: 'damaged', problem: entry.recordProblem ?? 'snapshot.json cannot be read' };
  const v = entry.verification;
  if (v?.failedAt && !(v.verifiedAt && v.verifiedAt > v.failedAt)) {
    return { state: 'damaged', problem: `verify failed at ${v.failedAt}${v.summary ? `: ${v.summary}` : ''}` };
  }
  return { state: 'complete' };
}

function chainState(
  entry: SnapshotEntry,
  byId: Map<string, SnapshotEntry>,
  seen: Set<string>,
  judge: (e: SnapshotEntry, seen: Set<string>) => AssessedSnapshot,
): AssessedSnapshot {
  const record = entry.record!;
  if (record.kind !== 'incr') return { ...entry, state: 'complete' };
  const parentId = record.parent!;
  const parent = byId.get(parentId);
  if (!parent) return { ...entry, state: 'broken-chain', problem: `its parent ${parentId} is missing` };
  if (seen.has(entry.id)) return { ...entry, state: 'broken-chain', problem: `its chain loops back on itself at ${parentId}` };
  const parentState = judge(parent, new Set([...seen, entry.id]));
  if (parentState.state === 'complete') return { ...entry, state: 'complete' };
  return { ...entry, state: 'broken-chain', problem: `its parent ${parentId} is ${parentState.state}${parentState.problem ? ` (${parentState.problem})` : ''}` };
}

export function isRestorable(s: AssessedSnapshot): s is AssessedSnapshot & CompleteSnapshot {
  return s.state === 'complete';
}

export function newestRestorable(assessed: AssessedSnapshot[]): (AssessedSnapshot & CompleteSnapshot) | undefined {
  return assessed.filter(isRestorable).at(-1);
}

/** The newest snapshot that is a backup or was meant to be one (anything but partial). */
export function newestPublished(assessed: AssessedSnapshot[]): AssessedSnapshot | undefined {
  return assessed.filter((s) => s.state !== 'partial').at(-1);
}

/** `state`, or `state: problem`, for messages. */
export function describeState(s: AssessedSnapshot): string {
  return s.problem ? `${s.state}: ${s.problem}` : s.state;
}
