/** The options and the description of a generated profile: what callers pass and get back. */
import type { PgServer } from '../cluster.js';

export type AiidaLayout = 'aiida-1' | 'disk-objectstore';

export interface GenerateOptions {
  /** Profile root to create: gets `.aiida/config.json` and `repository/`. */
  dir: string;
  server: PgServer;
  /** An existing, empty database. */
  database: string;
  layout: AiidaLayout;
  nodes: number;
  /** Default 2; 0 makes a database-only profile. */
  filesPerNode?: number;
  /** Default 200. */
  fileBytes?: number;
  /** Default 'demo'. */
  profileName?: string;
  /** Node uuids and file contents follow from it; default 1. */
  seed?: number;
  /** 2.x: objects appended to packs (uncompressed) instead of loose files. */
  packed?: boolean;
  /** 2.x: a pack is closed once it reaches this size; default 4 GiB as in disk-objectstore. */
  packSizeTarget?: number;
  /** ctime/mtime of the generated nodes spread evenly over this many days up to now; default 30. */
  historyDays?: number;
  log?: (line: string) => void;
}

export interface GeneratedProfile {
  /** `<dir>/.aiida/config.json`. */
  configPath: string;
  /** The path of the config's repository URI: holds `repository/node/…` (1.x) or `container/` (2.x). */
  repositoryPath: string;
  profileName: string;
  /** Nodes in the database, updated by addNodes. */
  nodes: number;
  layout: AiidaLayout;
  seed: number;
  filesPerNode: number;
  fileBytes: number;
  packSizeTarget: number;
}

export interface AddNodesOptions {
  server: PgServer;
  database: string;
  count: number;
  /** Default: the profile's layout. */
  layout?: AiidaLayout;
  packed?: boolean;
}

export interface TouchNodesOptions {
  server: PgServer;
  database: string;
  /** How many nodes to touch: those with the oldest mtime, so repeated calls touch new ones. */
  count: number;
}
