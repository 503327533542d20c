/**
 * The configuration half of a restore. An AiiDA snapshot holds a config.json with just the
 * backed-up profile; the restored copy points that profile at the restored repository and
 * database, so `verdi` started on it uses the restored state and never the original's.
 * Other configurations are copied back as they were.
 */
import { cp, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isFolder } from '../record/checksums.js';
import { isObject } from '../resolve/aiida-config.js';
import type { DatabaseConnection } from '../resolve/types.js';

export interface AiidaConfigTarget {
  /** The restored repository folder (the profile's repository URI path). */
  repository: string;
  /** Where the database was restored: server and name. */
  database: DatabaseConnection;
}

export interface RestoredAiidaConfig {
  config: Record<string, unknown>;
  profile: string;
  aiidaVersion: 1 | 2;
}

/** The AiiDA profile settings a restore rewrites, under 2.x and 1.x key names. */
const KEYS = {
  2: { uri: 'repository_uri', name: 'database_name', host: 'database_hostname', port: 'database_port' },
  1: { uri: 'AIIDADB_REPOSITORY_URI', name: 'AIIDADB_NAME', host: 'AIIDADB_HOST', port: 'AIIDADB_PORT' },
} as const;

/**
 * The snapshot's config.json with its one profile pointed at the restored state; undefined when
 * the JSON is not a single-profile AiiDA config (then it is copied as it is).
 */
export function restoredAiidaConfig(json: unknown, target: AiidaConfigTarget): RestoredAiidaConfig | undefined {
  if (!isObject(json) || !isObject(json.profiles)) return undefined;
  const names = Object.keys(json.profiles);
  const profile = json.profiles[names[0]!];
  if (names.length !== 1 || !isObject(profile)) return undefined;
  const copy = structuredClone(json);
  const settings = aiidaSettings((copy.profiles as Record<string, Record<string, unknown>>)[names[0]!]!);
  if (!settings) return undefined;
  const keys = KEYS[settings.version];
  // AiiDA builds the URI as 'file://' + path and reads it back without percent-decoding.
  settings.values[keys.uri] = `file://${target.repository}`;
  settings.values[keys.name] = target.database.name;
  settings.values[keys.host] = target.database.host;
  // 1.x wrote the port as a string, 2.x as a number.
  settings.values[keys.port] = settings.version === 1 ? String(target.database.port) : target.database.port;
  return { config: copy, profile: names[0]!, aiidaVersion: settings.version };
}

function aiidaSettings(profile: Record<string, unknown>): { version: 1 | 2; values: Record<string, unknown> } | undefined {
  if (isObject(profile.storage) && isObject(profile.storage.config)) return { version: 2, values: profile.storage.config };
  if (Object.keys(profile).some((k) => k.startsWith('AIIDADB_'))) return { version: 1, values: profile };
  return undefined;
}

export type ConfigRestore =
  | { kind: 'aiida'; source: string; target: string; profile: string; aiidaVersion: 1 | 2; config: Record<string, unknown> }
  | { kind: 'copy'; source: string; target: string };

/** What the snapshot's config/ becomes under the restore target's config/; undefined without one. */
export async function planConfigRestore(snapshotDir: string, targetDir: string, target: AiidaConfigTarget): Promise<ConfigRestore | undefined> {
  const source = join(snapshotDir, 'config');
  if (!(await isFolder(source))) return undefined;
  const json = await readFile(join(source, 'config.json'), 'utf8').then(
    (text) => JSON.parse(text) as unknown,
    () => undefined,
  );
  const aiida = json === undefined ? undefined : restoredAiidaConfig(json, target);
  if (!aiida) return { kind: 'copy', source, target: targetDir };
  return { kind: 'aiida', source: join(source, 'config.json'), target: join(targetDir, 'config.json'), ...aiida };
}

/** Writes the restored configuration; the folder is 0700 and a config.json 0600 (it holds a password). */
export async function restoreConfig(plan: ConfigRestore): Promise<void> {
  if (plan.kind === 'copy') {
    await cp(plan.source, plan.target, { recursive: true, preserveTimestamps: true, errorOnExist: true, force: false });
    return;
  }
  await mkdir(join(plan.target, '..'), { recursive: true, mode: 0o700 });
  const file = await open(plan.target, 'wx', 0o600);
  try {
    await file.writeFile(JSON.stringify(plan.config, null, 4) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
}
