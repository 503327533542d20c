import { BackplanError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import { openDestination } from '../destination/registry.js';
import { PIN_FILE } from '../destination/shared/listing.js';
import type { Destination } from '../destination/types.js';
import { assessSnapshots, describeState, isRestorable, newestRestorable } from '../record/health.js';
import type { AssessedSnapshot } from '../record/health.js';
import { pruneDestination } from '../record/prune.js';
import type { PruneDecision } from '../record/prune.js';
import { acquireLock, releaseLock } from '../record/lock.js';
import { readValidManifest } from './plan.js';

/** A valid manifest and its destination, for commands that only look at the destination. */
export interface Job {
  manifest: Manifest;
  destination: Destination;
}

export async function openJob(file: string): Promise<Job> {
  const { manifest } = await readValidManifest(file);
  return { manifest, destination: openDestination(manifest.destination) };
}

/** The job's snapshots at its destination, each with its health (record/health.ts). */
export async function assessJob({ manifest, destination }: Job): Promise<AssessedSnapshot[]> {
  return assessSnapshots(await destination.list(), manifest.name);
}

/** A snapshot of the job by id; `latest` is the newest restorable one. */
export function findIn(assessed: AssessedSnapshot[], id: string, destination: Destination): AssessedSnapshot {
  const wanted = id === 'latest' ? newestRestorable(assessed) : assessed.find((e) => e.id === id);
  if (!wanted) {
    const known = assessed.map((e) => e.id).slice(-5).join(', ') || 'none';
    const what = id === 'latest' ? 'restorable snapshot' : `snapshot ${id}`;
    throw new BackplanError('SNAPSHOT', `no ${what} of this job at ${destination.spec}`, { hint: `recent snapshots: ${known} (see backplan list)` });
  }
  return wanted;
}

/** A snapshot that can be restored, or SNAPSHOT naming its state. */
export function restorableIn(assessed: AssessedSnapshot[], id: string, destination: Destination): AssessedSnapshot & { record: NonNullable<AssessedSnapshot['record']> } {
  const entry = findIn(assessed, id, destination);
  if (!isRestorable(entry)) {
    throw new BackplanError('SNAPSHOT', `snapshot ${entry.id} cannot be restored (${describeState(entry)})`, {
      hint: 'pick a complete snapshot (backplan list shows each state)',
    });
  }
  return entry;
}

export async function setPinned(file: string, id: string, pinned: boolean): Promise<AssessedSnapshot> {
  const job = await openJob(file);
  const entry = findIn(await assessJob(job), id, job.destination);
  if (!entry.recorded) throw new BackplanError('SNAPSHOT', `${entry.id} is ${entry.state} and cannot be pinned`, { hint: 'pin a complete snapshot' });
  const marker = `${entry.id}/${PIN_FILE}`;
  if (pinned) await job.destination.writeText(marker, `pinned ${new Date().toISOString()}\n`);
  else await job.destination.removeFile(marker);
  return entry;
}

/** Prunes under the destination lock, so it never races a run's own prune. */
export async function pruneFile(file: string, dryRun: boolean, warn?: (message: string) => void): Promise<PruneDecision> {
  const { manifest, destination } = await openJob(file);
  const retention = manifest.retention ?? {};
  if (dryRun) return pruneDestination(destination, manifest.name, retention, { dryRun });
  await acquireLock(destination, manifest.name, { waitMs: 0, warn });
  try {
    return await pruneDestination(destination, manifest.name, retention, { dryRun });
  } finally {
    await releaseLock(destination);
  }
}

export function describeDecision(decision: PruneDecision, dryRun: boolean): string {
  const lines = decision.keep.map((k) => `keep    ${k.id}: ${k.reasons.join(', ')}`);
  for (const n of decision.notCounted) lines.push(`skip    ${n.id}: ${n.reason}`);
  for (const p of decision.prune) lines.push(`${dryRun ? 'would delete' : 'deleted'} ${p.id}: ${p.reason}`);
  return lines.join('\n') + '\n';
}
