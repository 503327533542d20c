import type { SnapshotKind } from './layout.js';

/** One checksummed artefact. A folder artefact is recorded as its SHA256SUMS list. */
export interface ArtefactRecord {
  /** Path relative to the snapshot folder. */
  path: string;
  bytes: number;
  sha256: string;
  /** For a SHA256SUMS list: the folder it covers, its file count and their bytes. */
  covers?: { folder: string; files: number; bytes: number };
}

export interface StepRecord {
  id: string;
  kind: string;
  status: 'ok' | 'failed' | 'skipped' | 'cancelled';
  durationMs: number;
  bytes?: number;
  exitCode?: number | null;
  stderrTail?: string;
}

/**
 * The roles a dump names, by how a restore meets them: owners of its objects (not needed under
 * --no-owner), grantees and grantors of its privileges (not under --no-privileges), and roles
 * named by policies or user mappings (always).
 */
export interface DatabaseRoles {
  owners: string[];
  grantees: string[];
  others: string[];
}

/**
 * How a snapshot's artefacts were encrypted: the tool and the public keys (recipients) only.
 * Every artefact whose name ends in `.age` is one age stream; checksums are of the ciphertext.
 */
export interface SnapshotEncryption {
  tool: 'age';
  recipients: string[];
}

/** The contents of snapshot.json: a snapshot is complete exactly when this file exists. */
export interface SnapshotRecord {
  format: 'backplan-snapshot/1';
  id: string;
  kind: SnapshotKind;
  job: string;
  startedAt: string;
  completedAt: string;
  tool: { name: 'backplan'; version: string };
  manifest: { file: string; sha256: string };
  parent?: string;
  /** Why this is a full where the strategy makes incrementals (e.g. the latest snapshot was damaged). */
  reason?: string;
  /** Database clock at snapshot start, minus the margin: the next incremental copies what changed after it. */
  watermark?: string;
  database?: {
    name: string;
    serverVersion: string;
    pgDumpVersion: string;
    format: string;
    compression: string;
    exportedSnapshot: boolean;
    rowCounts: Record<string, number>;
    /** The database's owner when dumped (absent in snapshots older than #13, as `roles`). */
    owner?: string;
    /** The roles the dump names (db/roles.ts); their definitions are in database.roles.sql. */
    roles?: DatabaseRoles;
  };
  repository?: { strategy: string; layout: string; source: string; files?: number; bytes?: number; extra?: Record<string, unknown> };
  /** Absent for a snapshot written in clear. */
  encryption?: SnapshotEncryption;
  artefacts: ArtefactRecord[];
  steps: StepRecord[];
}

/** The bytes a snapshot takes: its artefacts, and the files each SHA256SUMS list covers. */
export function snapshotBytes(record: SnapshotRecord): number {
  return record.artefacts.reduce((n, a) => n + a.bytes + (a.covers?.bytes ?? 0), 0);
}
