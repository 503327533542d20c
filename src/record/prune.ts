import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PARTIAL_PREFIX } from './layout.js';
import type { Retention } from '../manifest.js';
import { listSnapshots } from './destination.js';
import type { SnapshotEntry } from './destination.js';
import { decideRetention } from './retention.js';
import { deleteRemoteSnapshots } from './remote/destination.js';
import { remoteDestination } from '../util/destination.js';
import type { RetentionDecision, SnapshotInfo } from './retention.js';

export function retentionInput(entries: SnapshotEntry[]): SnapshotInfo[] {
  return entries.map((e) => ({ id: e.id, time: e.time, kind: e.kind, complete: e.complete, pinned: e.pinned, parent: e.record?.parent }));
}

/** Applies retention at the destination; with dryRun, only says what would go and why. */
export async function pruneDestination(destination: string, retention: Retention, opts: { dryRun: boolean }): Promise<RetentionDecision> {
  const entries = await listSnapshots(destination);
  const decision = decideRetention(retentionInput(entries), retention);
  const remote = remoteDestination(destination);
  if (!opts.dryRun && remote) await deleteRemoteSnapshots(remote, decision.prune.map((p) => p.id));
  else if (!opts.dryRun) {
    const dirs = new Map(entries.map((e) => [e.id, e.dir]));
    for (const { id } of decision.prune) {
      // Renamed first: a prune killed mid-delete leaves a .partial-, never a broken snapshot.
      const doomed = join(destination, `${PARTIAL_PREFIX}${id}`);
      await rename(dirs.get(id)!, doomed);
      await rm(doomed, { recursive: true, force: true });
    }
  }
  return decision;
}
