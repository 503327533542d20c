import type { Resolution } from '../resolve/types.js';
import type { Destination, SnapshotEntry } from '../destination/types.js';
import { assessSnapshots, newestRestorable } from '../record/health.js';
import { estimateIncremental } from '../incremental/estimate.js';
import type { IncrementalEstimate } from '../incremental/estimate.js';
import { connect } from '../db/connect.js';
import { majorVersion, pgDumpVersion } from '../db/pg-dump-version.js';
import { EXPORT_SQL } from '../steps/db-snapshot.js';
import type { PlanFacts } from './make-plan.js';

/**
 * Reads what a plan depends on: the destination's snapshots, pg_dump's version, the server.
 * With `estimate`, also what the next incremental would copy (a query and a stat per changed
 * path: worth it for `plan`, not for every run).
 */
export async function probeFacts(destination: Destination, job: string, resolution: Resolution, now = new Date(), opts: { estimate?: boolean } = {}): Promise<PlanFacts> {
  const notes: string[] = [];
  const [pgDumpMajor, exportedSnapshots, snapshots] = await Promise.all([
    pgDumpVersion().then(majorVersion).catch(() => {
      notes.push('pg_dump was not found on PATH: install the PostgreSQL client (same major version as the server or newer)');
      return undefined;
    }),
    serverExportsSnapshots(resolution, notes),
    destination.list().catch((e: unknown) => {
      // A plan can still be shown; a run fails at its lock step, which needs the destination too.
      notes.push(`could not list ${destination.spec}: ${(e as Error).message}; planned as if it held no snapshot`);
      return [];
    }),
  ]);
  const incremental = opts.estimate ? await incrementalEstimate(snapshots, job, resolution, notes) : undefined;
  return { now, pgDumpMajor, exportedSnapshots, snapshots, notes, ...(incremental ? { incremental } : {}) };
}

/** Estimated against the newest restorable snapshot, the parent an incremental would have. */
async function incrementalEstimate(snapshots: SnapshotEntry[], job: string, { profile, secrets }: Resolution, notes: string[]): Promise<IncrementalEstimate | undefined> {
  const parent = newestRestorable(assessSnapshots(snapshots, job))?.record;
  if (!parent) return undefined;
  return estimateIncremental(profile, secrets, parent).catch((e: unknown) => {
    notes.push(`could not estimate what the incremental would copy: ${(e as Error).message}`);
    return undefined;
  });
}

/** Tries to export a snapshot and rolls back; an unreachable server is assumed to allow it. */
async function serverExportsSnapshots({ profile, secrets }: Resolution, notes: string[]): Promise<boolean> {
  let client;
  try {
    client = await connect(profile.database, secrets);
  } catch (e) {
    notes.push(`could not reach the database while planning (${(e as Error).message}); assuming it allows exported snapshots`);
    return true;
  }
  try {
    for (const sql of EXPORT_SQL) await client.query(sql);
    return true;
  } catch {
    return false;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
