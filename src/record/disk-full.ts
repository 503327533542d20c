import { stat, statfs } from 'node:fs/promises';
import type { Destination } from '../destination/types.js';
import { BackplanError } from '../errors.js';
import { formatBytes } from '../util/bytes.js';
import { walkFiles } from './checksums.js';

/**
 * Turns a subprocess's "No space left on device" into what the user needs: which destination,
 * how much is free, and how much a snapshot takes (the previous one's size, else what this one
 * had written when the disk filled).
 */
export async function explainDiskFull(error: BackplanError, dest: Destination, partialDir: string): Promise<BackplanError> {
  const { where, localFolder } = dest.space();
  const free = await statfs(localFolder).then((s) => s.bavail * s.bsize).catch(() => undefined);
  const previous = (await dest.list().catch(() => [])).filter((e) => e.record).at(-1);
  const previousBytes = previous?.record?.artefacts.reduce((n, a) => n + a.bytes + (a.covers?.bytes ?? 0), 0);
  const written = await bytesUnder(partialDir);
  const need = previousBytes !== undefined ? `the previous snapshot took ${formatBytes(previousBytes)}` : `this snapshot had written ${formatBytes(written)} when it filled, and needs more`;
  const freeText = free === undefined ? '' : ` (${formatBytes(free)} free)`;
  return new BackplanError('DISK_FULL', `${where} is full${freeText}: ${need}`, {
    ...error.details,
    hint: `free at least ${formatBytes(Math.max(previousBytes ?? 0, written))} at ${where} (or lower retention), then run again; the partial snapshot is cleared by the next run`,
  });
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const file of walkFiles(dir)) total += (await stat(file)).size;
  } catch {
    // The partial folder may not exist (the disk filled before it was made).
  }
  return total;
}
