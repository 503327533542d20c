import { join } from 'node:path';
import { BackplanError, BackplanErrors } from '../errors.js';
import { readManifest } from '../load/read-manifest.js';
import type { Manifest } from '../manifest.js';
import { listSnapshots, PIN_FILE } from '../record/destination.js';
import type { SnapshotEntry } from '../record/destination.js';
import { pruneDestination } from '../record/prune.js';
import { acquireLock, releaseLock } from '../record/lock.js';
import type { RetentionDecision } from '../record/retention.js';
import { removeFile, writeText } from '../record/files.js';

/** The valid manifest behind commands that only look at the destination (list, prune, pin). */
export async function manifestOf(file: string): Promise<Manifest> {
  const source = await readManifest(file);
  if (source.errors.length > 0 || !source.manifest) throw new BackplanErrors(source.errors);
  return source.manifest;
}

export async function findSnapshot(destination: string, id: string): Promise<SnapshotEntry> {
  return findIn(await listSnapshots(destination), id, destination);
}

export function findIn(entries: SnapshotEntry[], id: string, destination: string): SnapshotEntry {
  const wanted = id === 'latest' ? entries.filter((e) => e.complete).at(-1) : entries.find((e) => e.id === id);
  if (!wanted) {
    const known = entries.map((e) => e.id).slice(-5).join(', ') || 'none';
    throw new BackplanError('SNAPSHOT', `no snapshot ${id} at ${destination}`, { hint: `recent snapshots: ${known} (see backplan list)` });
  }
  return wanted;
}

export async function setPinned(file: string, id: string, pinned: boolean): Promise<SnapshotEntry> {
  const { destination } = await manifestOf(file);
  const entry = await findSnapshot(destination, id);
  if (!entry.complete) throw new BackplanError('SNAPSHOT', `${entry.id} is incomplete and cannot be pinned`, { hint: 'pin a complete snapshot' });
  const marker = join(entry.dir, PIN_FILE);
  if (pinned) await writeText(marker, `pinned ${new Date().toISOString()}\n`);
  else await removeFile(marker);
  return entry;
}

/** Prunes under the destination lock, so it never races a run's own prune. */
export async function pruneFile(file: string, dryRun: boolean): Promise<RetentionDecision> {
  const { destination, retention = {}, name } = await manifestOf(file);
  if (dryRun) return pruneDestination(destination, retention, { dryRun });
  const lock = join(destination, '.lock');
  await acquireLock(lock, name, { waitMs: 0 });
  try {
    return await pruneDestination(destination, retention, { dryRun });
  } finally {
    await releaseLock(lock);
  }
}

export function describeDecision(decision: RetentionDecision, dryRun: boolean): string {
  const lines = decision.keep.map((k) => `keep    ${k.id}: ${k.reasons.join(', ')}`);
  for (const p of decision.prune) lines.push(`${dryRun ? 'would delete' : 'deleted'} ${p.id}: ${p.reason}`);
  return lines.join('\n') + '\n';
}
