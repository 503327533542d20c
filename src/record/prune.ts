import type { Retention } from '../manifest.js';
import type { Destination } from '../destination/types.js';
import { assessSnapshots, describeState } from './health.js';
import type { AssessedSnapshot } from './health.js';
import { decideRetention } from './retention.js';
import type { RetentionDecision, SnapshotInfo } from './retention.js';

/** Only restorable snapshots take part in retention: a damaged one never counts toward a rule. */
export function retentionInput(assessed: AssessedSnapshot[]): SnapshotInfo[] {
  return assessed.map((s) => ({ id: s.id, time: s.time, kind: s.kind, complete: s.state === 'complete', pinned: s.pinned, parent: s.record?.parent }));
}

export interface PruneDecision extends RetentionDecision {
  /** Snapshots retention neither counts nor deletes, with why (damaged, broken chain). */
  notCounted: { id: string; reason: string }[];
}

/** Applies retention to the job's snapshots; with dryRun, only says what would go and why. */
export async function pruneDestination(dest: Destination, job: string, retention: Retention, opts: { dryRun: boolean }): Promise<PruneDecision> {
  const assessed = assessSnapshots(await dest.list(), job);
  const decision = decideRetention(retentionInput(assessed), retention);
  const notCounted = assessed
    .filter((s) => s.state === 'damaged' || s.state === 'broken-chain')
    .map((s) => ({ id: s.id, reason: `${describeState(s)}; not counted, not deleted: inspect it, then delete it by hand` }));
  if (!opts.dryRun) await dest.removeSnapshots(decision.prune.map((p) => p.id));
  return { ...decision, notCounted };
}
