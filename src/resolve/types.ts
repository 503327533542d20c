/** What a manifest's `profile` block resolves to: one shape for AiiDA and explicit profiles. */

export interface DatabaseConnection {
  host: string;
  port: number;
  name: string;
  user: string;
}

/** Kept apart from everything printable: plans, events and snapshot.json never hold this. */
export interface Secrets {
  /** From PGPASSWORD or the AiiDA config; ~/.pgpass is left to libpq. */
  pgPassword?: string;
}

export type RepositoryLayout = 'plain' | 'aiida-1' | 'disk-objectstore';

export interface AiidaProfileInfo {
  /** Absolute path of the config.json read. */
  configPath: string;
  profileName: string;
  /** 1 for AIIDADB_* keys, 2 for storage.config. */
  aiidaVersion: 1 | 2;
}

export interface ResolvedProfile {
  kind: 'aiida' | 'explicit';
  /** Files or folders copied into the snapshot's config/ (for AiiDA: none; see `aiida`). */
  configPaths: string[];
  aiida?: AiidaProfileInfo;
  repository: { path: string; layout: RepositoryLayout };
  database: DatabaseConnection;
}

export interface Resolution {
  profile: ResolvedProfile;
  secrets: Secrets;
}
