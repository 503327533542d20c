import type { Retention } from '../manifest.js';
import type { Destination, SnapshotEntry } from '../destination/types.js';
import { decideRetention } from './retention.js';
import type { RetentionDecision, SnapshotInfo } from './retention.js';

export function retentionInput(entries: SnapshotEntry[]): SnapshotInfo[] {
  return entries.map((e) => ({ id: e.id, time: e.time, kind: e.kind, complete: e.complete, pinned: e.pinned, parent: e.record?.parent }));
}

/** Applies retention at the destination; with dryRun, only says what would go and why. */
export async function pruneDestination(dest: Destination, retention: Retention, opts: { dryRun: boolean }): Promise<RetentionDecision> {
  const decision = decideRetention(retentionInput(await dest.list()), retention);
  if (!opts.dryRun) await dest.removeSnapshots(decision.prune.map((p) => p.id));
  return decision;
}
