/** What the repository writers share: the interface and cheap, bounded-concurrency small-file writes. */
import { mkdir as mkdirCb, writeFile as writeFileCb } from 'node:fs';
import { promisify } from 'node:util';
import type { NodeRecord } from './data.js';

export const WRITES_IN_FLIGHT = 64;
// For the many small repository files: fs.promises.writeFile goes through a FileHandle and costs
// about twice the CPU of the callback API, which dominates on a fast (tmpfs) disk.
export const writeSmallFile = promisify(writeFileCb);
export const mkdirs = (dir: string) => promisify(mkdirCb)(dir, { recursive: true });

export interface RepositoryWriter {
  /** Resolves once every file of `nodes` is on disk (and, for packs, indexed). */
  write(nodes: NodeRecord[]): Promise<void>;
}

export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
