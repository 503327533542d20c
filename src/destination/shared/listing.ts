/** One snapshot folder's entry, built the same way whatever the destination read it from. */
import { parseSnapshotId, PARTIAL_PREFIX } from '../../record/layout.js';
import type { SnapshotRecord } from '../../record/snapshot-record.js';
import type { SnapshotEntry, Verification } from '../types.js';

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
  const read = partial || files.snapshotJson === undefined ? {} : readRecord(files.snapshotJson, id);
  return {
    id,
    name,
    dir,
    ...parsed,
    recorded: read.record !== undefined,
    pinned: files.pinned,
    ...read,
    recordFile: files.snapshotJson !== undefined,
    verification: read.record ? verificationOf(files.verificationJson) : undefined,
  };
}

/** The record, or why snapshot.json cannot be one (truncated, not JSON, another snapshot's). */
function readRecord(text: string, id: string): { record?: SnapshotRecord; recordProblem?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { recordProblem: `snapshot.json is not valid JSON (${(e as Error).message})` };
  }
  const r = value as Partial<SnapshotRecord> | null;
  if (r === null || typeof r !== 'object' || r.format !== 'backplan-snapshot/1') return { recordProblem: 'snapshot.json is not a backplan snapshot record' };
  if (r.id !== id) return { recordProblem: `snapshot.json describes ${String(r.id)}, not ${id}` };
  const artefactsOk = Array.isArray(r.artefacts) && r.artefacts.every((a) => typeof a?.path === 'string' && typeof a.sha256 === 'string' && typeof a.bytes === 'number');
  if (!artefactsOk || typeof r.job !== 'string') return { recordProblem: 'snapshot.json lacks its job or a valid list of artefacts' };
  if (r.kind === 'incr' && typeof r.parent !== 'string') return { recordProblem: 'snapshot.json is an incremental that names no parent' };
  return { record: r as SnapshotRecord };
}

/** How the last `verify` of the snapshot went, from verification.json. */
function verificationOf(text: string | undefined): Verification | undefined {
  const v = parseJson<Verification & { problems?: { path: string; problem: string }[] }>(text);
  if (!v) return undefined;
  const first = v.problems?.[0];
  const summary = first ? `${first.path}: ${first.problem}${v.problems!.length > 1 ? ` (and ${v.problems!.length - 1} more)` : ''}` : undefined;
  return { verifiedAt: v.verifiedAt, failedAt: v.failedAt, ...(v.failedAt && summary ? { summary } : {}) };
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


