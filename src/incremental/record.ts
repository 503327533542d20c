/**
 * What the incremental strategy records in snapshot.json (`repository.extra`), and how the next
 * run reads its parent's record back. The parent's record is the only state an incremental run
 * needs: its watermark bounds the change query, its pack lengths bound the pack tails.
 */
import { BackplanError } from '../errors.js';
import type { Destination } from '../destination/types.js';
import { SNAPSHOT_JSON } from '../record/layout.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';

/** A pack file as the snapshot left it: its length and a hash of the bytes just before it. */
export interface PackState {
  length: number;
  /** Start of the checked region: max(0, length − 1 MiB). */
  checkFrom: number;
  /** sha256 of bytes [checkFrom, length): a repack that rewrote them shows up as a mismatch. */
  checkSha256: string;
}

/** Bytes [offset, offset + length) of one pack, stored zstd-compressed as `artefact`. */
export interface PackPiece {
  pack: string;
  offset: number;
  length: number;
  artefact: string;
  /** new: no earlier record; grown: only the appended tail; repacked: shrank or rewritten, so whole. */
  reason: 'new' | 'grown' | 'repacked';
}

/**
 * packs.idx in this snapshot. A full keeps the whole online-backup copy; an incremental keeps an
 * SQL script of the rows that are new or moved (see container.ts), replayed onto the base copy.
 */
export interface IndexRecord {
  artefact: string;
  kind: 'copy' | 'delta';
  /** Highest db_object id in the copy: rows above it are new to the next run. */
  maxId: number;
}

export interface ContainerRecord {
  /** The container inside the repository folder: `container` for AiiDA 2.x profiles. */
  path: string;
  packs: Record<string, PackState>;
  pieces: PackPiece[];
  index?: IndexRecord;
}

/** One pass of the change query: nodes changed in (from, to], `to` open for the last window. */
export interface WindowRecord {
  from: string;
  to?: string;
  nodes: number;
}

export interface IncrementalExtra {
  /** full: the whole repository; delta: what changed since the parent's watermark. */
  mode: 'full' | 'delta';
  /** The tar artefact: repository.tar.zst or repository-delta.tar.zst. */
  archive: string;
  /** The parent's watermark the change query started from (delta only). */
  since?: string;
  /** Changed nodes the query returned (delta only; a node changed in two windows counts twice). */
  nodes?: number;
  windows?: WindowRecord[];
  /** Bytes of pack data copied (raw, before compression). */
  packBytes?: number;
  container?: ContainerRecord;
}

export const INCREMENTAL_STRATEGY = 'incremental';

/** The incremental part of a snapshot record, or undefined when another strategy made it. */
export function incrementalExtra(record: SnapshotRecord): IncrementalExtra | undefined {
  const repo = record.repository;
  if (repo?.strategy !== INCREMENTAL_STRATEGY || !repo.extra) return undefined;
  return repo.extra as unknown as IncrementalExtra;
}

export async function readSnapshotRecord(dest: Destination, id: string): Promise<SnapshotRecord> {
  const path = `${id}/${SNAPSHOT_JSON}`;
  try {
    const text = await dest.readText(path);
    if (text === undefined) throw new Error('no such file');
    return JSON.parse(text) as SnapshotRecord;
  } catch (e) {
    throw new BackplanError('SNAPSHOT', `cannot read ${dest.location(path)}: ${(e as Error).message}`, {
      hint: 'the snapshot is incomplete or damaged; `backplan list` shows its state',
      cause: e,
    });
  }
}

/** What an incremental run builds on: the parent's watermark and, for a container, its packs. */
export interface ParentState {
  id: string;
  watermark: string;
  container?: ContainerRecord;
}

/**
 * The parent's state, or undefined when the parent cannot anchor a delta (made by the tar or
 * rsync strategy, or before watermarks were recorded): the caller then copies everything.
 */
export function parentStateOf(record: SnapshotRecord): ParentState | undefined {
  const extra = incrementalExtra(record);
  if (!extra || record.watermark === undefined) return undefined;
  return { id: record.id, watermark: record.watermark, container: extra.container };
}
