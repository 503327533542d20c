/**
 * The manifest as validated against `schemas/manifest.schema.json`. This hand-written type and
 * the schema are kept in agreement by test/manifest-type.test.ts, which fails when the schema
 * gains a property this type (and its fully-populated sample) lacks.
 */
export type Duration = string;
export type Command = string | string[];

export interface AiidaProfileSpec {
  config: string;
  profile?: string;
}

export interface ExplicitProfileSpec {
  config?: string[];
  repository: string;
  layout?: 'plain' | 'aiida-1' | 'disk-objectstore';
  database: { host?: string; port?: number; name: string; user?: string };
}

export interface HookSpec {
  run: Command;
  always?: boolean;
  timeout?: Duration;
}

export interface StepSpec {
  id: string;
  run: Command;
  needs?: string[];
  always?: boolean;
  timeout?: Duration;
}

export type DumpFormat = 'custom' | 'directory' | 'plain';
export type Compression = 'zstd' | 'gzip' | 'none';
export type RepositoryStrategy = 'tar' | 'rsync' | 'incremental';

/** Public keys only: age (`age1…`) or ssh (`ssh-ed25519 …`, `ssh-rsa …`). */
export interface EncryptionSpec {
  age: { recipients: string[] };
}

export interface Retention {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

export interface Manifest {
  version: 1;
  name: string;
  profile: { aiida?: AiidaProfileSpec; explicit?: ExplicitProfileSpec };
  destination: string;
  database?: { format?: DumpFormat; compression?: Compression; jobs?: number; timeout?: Duration };
  repository?: {
    strategy?: RepositoryStrategy;
    exclude?: string[];
    tar?: { compression?: Compression; level?: number };
    rsync?: { linkDest?: boolean; args?: string[] };
    incremental?: { fullEvery?: Duration; periodicity?: Duration; margin?: Duration };
  };
  encryption?: EncryptionSpec;
  retention?: Retention;
  hooks?: { before?: HookSpec[]; after?: HookSpec[] };
  notify?: { start?: string; finish?: string; fail?: string; timeout?: Duration; retries?: number };
  steps?: StepSpec[];
}
