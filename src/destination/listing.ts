/** One snapshot folder's entry, built the same way whatever the destination read it from. */
import { parseSnapshotId, PARTIAL_PREFIX } from '../record/layout.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import type { SnapshotEntry } from './types.js';

export const PIN_FILE = '.pinned';
export const VERIFICATION_FILE = 'verification.json';
export const LATEST_LINK = 'latest';

/** The small files of a snapshot folder a listing reads: text when present. */
export interface FolderFiles {
  snapshotJson?: string;
  verificationJson?: string;
  pinned: boolean;
}

/** Undefined for a name that is no snapshot folder. */
export function snapshotEntry(name: string, dir: string, files: FolderFiles): SnapshotEntry | undefined {
  const partial = name.startsWith(PARTIAL_PREFIX);
  const id = partial ? name.slice(PARTIAL_PREFIX.length) : name;
  const parsed = parseSnapshotId(id);
  if (!parsed) return undefined;
  const record = partial ? undefined : parseJson<SnapshotRecord>(files.snapshotJson);
  return {
    id,
    name,
    dir,
    ...parsed,
    complete: record !== undefined,
    pinned: files.pinned,
    record,
    recordFile: files.snapshotJson !== undefined,
    verifiedAt: record ? parseJson<{ verifiedAt?: string }>(files.verificationJson)?.verifiedAt : undefined,
  };
}

/** Snapshot folder names are checked before anything deletes by name. */
export function isSnapshotFolder(name: string): boolean {
  return parseSnapshotId(name.startsWith(PARTIAL_PREFIX) ? name.slice(PARTIAL_PREFIX.length) : name) !== undefined;
}

export function oldestFirst(entries: SnapshotEntry[]): SnapshotEntry[] {
  return entries.sort((a, b) => a.time.getTime() - b.time.getTime() || a.id.localeCompare(b.id));
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function latestComplete(entries: SnapshotEntry[]): SnapshotEntry | undefined {
  return entries.filter((e) => e.complete).at(-1);
}
