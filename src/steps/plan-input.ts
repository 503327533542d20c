import type { IncrementalEstimate } from '../incremental/estimate.js';
import type { Plan } from '../plan/types.js';
import type { Settings } from '../plan/settings.js';
import type { DatabaseConnection, ResolvedProfile } from '../resolve/types.js';
import type { Destination } from '../destination/types.js';
import type { SnapshotKind } from '../record/layout.js';

/** The latest complete snapshot at the destination, as a later snapshot builds on it. */
export interface PreviousSnapshot {
  id: string;
  kind: SnapshotKind;
  time: Date;
}

/** What every step's plan builder may look at. */
export interface PlanInput {
  settings: Settings;
  destination: Destination;
  profile: ResolvedProfile;
  snapshot: Plan['snapshot'];
  previous?: PreviousSnapshot;
  /** Major version of the local pg_dump, when found. */
  pgDumpMajor?: number;
  /** Whether a password will be handed to children (shown as ***). */
  hasPassword: boolean;
  /** Whether the server lets the run export its snapshot to pg_dump and the copy. */
  exportedSnapshots: boolean;
  /** What the next incremental would copy, when `plan` asked the database. */
  incrementalEstimate?: IncrementalEstimate;
}

/** Connection settings for libpq children. Passed through the environment so that no
 * database name, host or user from a manifest is ever parsed as a pg_dump option. */
export function libpqEnv(db: DatabaseConnection): Record<string, string> {
  return { PGHOST: db.host, PGPORT: String(db.port), PGUSER: db.user, PGDATABASE: db.name };
}

/** `dbname='…'` for a --dbname/--database argument: a database name is never read as a connection string. */
export function conninfo(name: string): string {
  return `dbname='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Placeholder replaced at run time by the id db-snapshot exported. */
export const EXPORTED_SNAPSHOT = '<exported-snapshot>';
