import { BackplanError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import { openDestination } from '../destination/registry.js';
import { PIN_FILE } from '../destination/listing.js';
import type { Destination, SnapshotEntry } from '../destination/types.js';
import { pruneDestination } from '../record/prune.js';
import { acquireLock, releaseLock } from '../record/lock.js';
import type { RetentionDecision } from '../record/retention.js';
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

/** `latest` is the newest complete snapshot. */
export function findIn(entries: SnapshotEntry[], id: string, destination: Destination): SnapshotEntry {
  const wanted = id === 'latest' ? entries.filter((e) => e.complete).at(-1) : entries.find((e) => e.id === id);
  if (!wanted) {
    const known = entries.map((e) => e.id).slice(-5).join(', ') || 'none';
    throw new BackplanError('SNAPSHOT', `no snapshot ${id} at ${destination.spec}`, { hint: `recent snapshots: ${known} (see backplan list)` });
  }
  return wanted;
}

export async function setPinned(file: string, id: string, pinned: boolean): Promise<SnapshotEntry> {
  const { destination } = await openJob(file);
  const entry = findIn(await destination.list(), id, destination);
  if (!entry.complete) throw new BackplanError('SNAPSHOT', `${entry.id} is incomplete and cannot be pinned`, { hint: 'pin a complete snapshot' });
  const marker = `${entry.id}/${PIN_FILE}`;
  if (pinned) await destination.writeText(marker, `pinned ${new Date().toISOString()}\n`);
  else await destination.removeFile(marker);
  return entry;
}

/** Prunes under the destination lock, so it never races a run's own prune. */
export async function pruneFile(file: string, dryRun: boolean, warn?: (message: string) => void): Promise<RetentionDecision> {
  const { manifest, destination } = await openJob(file);
  const retention = manifest.retention ?? {};
  if (dryRun) return pruneDestination(destination, retention, { dryRun });
  await acquireLock(destination, manifest.name, { waitMs: 0, warn });
  try {
    return await pruneDestination(destination, retention, { dryRun });
  } finally {
    await releaseLock(destination);
  }
}

export function describeDecision(decision: RetentionDecision, dryRun: boolean): string {
  const lines = decision.keep.map((k) => `keep    ${k.id}: ${k.reasons.join(', ')}`);
  for (const p of decision.prune) lines.push(`${dryRun ? 'would delete' : 'deleted'} ${p.id}: ${p.reason}`);
  return lines.join('\n') + '\n';
}
