import type { SnapshotEncryption } from '../record/snapshot-record.js';
import type { Compression, DumpFormat, HookSpec, Manifest, RepositoryStrategy, Retention, StepSpec } from '../manifest.js';
import { parseDuration } from '../util/duration.js';

/** The manifest with every default of the schema applied and durations in milliseconds. */
export interface Settings {
  name: string;
  destination: string;
  database: { format: DumpFormat; compression: Compression; jobs: number; timeoutMs?: number };
  repository: {
    strategy: RepositoryStrategy;
    exclude: string[];
    tar: { compression: Compression; level: number };
    rsync: { linkDest: boolean; args: string[] };
    incremental: { fullEveryMs: number; periodicityMs?: number; marginMs: number };
  };
  /** Public keys only (encryption.age.recipients); absent: artefacts are written in clear. */
  encryption?: SnapshotEncryption;
  retention: Retention;
  hooks: { before: HookSpec[]; after: HookSpec[] };
  steps: StepSpec[];
}

const optionalMs = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));

export function settingsOf(m: Manifest): Settings {
  const repo = m.repository ?? {};
  return {
    name: m.name,
    destination: m.destination,
    database: {
      format: m.database?.format ?? 'custom',
      compression: m.database?.compression ?? 'zstd',
      jobs: m.database?.jobs ?? 1,
      timeoutMs: optionalMs(m.database?.timeout),
    },
    repository: {
      strategy: repo.strategy ?? 'tar',
      exclude: repo.exclude ?? [],
      tar: { compression: repo.tar?.compression ?? 'zstd', level: repo.tar?.level ?? 3 },
      rsync: { linkDest: repo.rsync?.linkDest ?? true, args: repo.rsync?.args ?? [] },
      incremental: {
        fullEveryMs: parseDuration(repo.incremental?.fullEvery ?? '30d'),
        periodicityMs: optionalMs(repo.incremental?.periodicity),
        marginMs: parseDuration(repo.incremental?.margin ?? '5m'),
      },
    },
    ...(m.encryption ? { encryption: { tool: 'age' as const, recipients: m.encryption.age.recipients } } : {}),
    retention: m.retention ?? {},
    hooks: { before: m.hooks?.before ?? [], after: m.hooks?.after ?? [] },
    steps: m.steps ?? [],
  };
}
