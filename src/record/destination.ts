import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PARTIAL_PREFIX, SNAPSHOT_JSON, parseSnapshotId } from './layout.js';
import type { SnapshotRecord } from './snapshot-record.js';
import { remoteDestination } from '../util/destination.js';
import { listRemoteSnapshots } from './remote/destination.js';

export const PIN_FILE = '.pinned';
export const VERIFICATION_FILE = 'verification.json';

export interface SnapshotEntry {
  id: string;
  dir: string;
  time: Date;
  kind: 'full' | 'incr';
  /** Written as .partial-<id> or lacking snapshot.json: not a backup. */
  complete: boolean;
  pinned: boolean;
  record?: SnapshotRecord;
  /** snapshot.json exists, readable or not (remote listings only say so; locally, stat it). */
  recordFile?: boolean;
  verifiedAt?: string;
}

/** Every snapshot folder at the destination, oldest first; a missing destination is empty. */
export async function listSnapshots(destination: string): Promise<SnapshotEntry[]> {
  const remote = remoteDestination(destination);
  if (remote) return listRemoteSnapshots(remote);
  let names: string[];
  try {
    names = await readdir(destination);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const entries: SnapshotEntry[] = [];
  for (const name of names) {
    const partial = name.startsWith(PARTIAL_PREFIX);
    const id = partial ? name.slice(PARTIAL_PREFIX.length) : name;
    const parsed = parseSnapshotId(id);
    if (!parsed) continue;
    const dir = join(destination, name);
    const record = partial ? undefined : await readJson<SnapshotRecord>(join(dir, SNAPSHOT_JSON));
    const verification = record ? await readJson<{ verifiedAt: string }>(join(dir, VERIFICATION_FILE)) : undefined;
    entries.push({
      id,
      dir,
      ...parsed,
      complete: record !== undefined,
      pinned: await exists(join(dir, PIN_FILE)),
      record,
      verifiedAt: verification?.verifiedAt,
    });
  }
  return entries.sort((a, b) => a.time.getTime() - b.time.getTime() || a.id.localeCompare(b.id));
}

export function latestComplete(entries: SnapshotEntry[]): SnapshotEntry | undefined {
  return entries.filter((e) => e.complete).at(-1);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
