/**
 * The configuration half of a restore. An AiiDA snapshot holds a config.json with just the
 * backed-up profile; the restored copy points that profile at the restored repository and
 * database, so `verdi` started on it uses the restored state and never the original's. It goes
 * where AiiDA looks for it, `DIR/.aiida/config.json`, so `AIIDA_PATH=DIR verdi status` works as
 * it stands; `--merge-into` adds the profile to an existing config.json instead. Other
 * configurations are copied back as they were, into `DIR/config/`.
 */
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BackplanError } from '../errors.js';
import { AGE_SUFFIX, ageFile, decryptStage, isSealed, needIdentity, readPlain } from '../execute/age.js';
import { writeFileAtomic } from '../util/durable.js';
import { isFolder, walkFileNames } from '../record/checksums.js';
import { isObject } from '../resolve/aiida-config.js';
import type { DatabaseConnection } from '../resolve/types.js';

export interface AiidaConfigTarget {
  /** The restored repository folder (the profile's repository URI path). */
  repository: string;
  /** Where the database was restored: server, name, and the profile's role there. */
  database: DatabaseConnection;
  /** Restore the profile under this name, with a fresh PROFILE_UUID. */
  profileName?: string;
}

export interface RestoredAiidaConfig {
  config: Record<string, unknown>;
  profile: string;
  aiidaVersion: 1 | 2;
}

/** The AiiDA profile settings a restore rewrites, under 2.x and 1.x key names. */
const KEYS = {
  2: { uri: 'repository_uri', name: 'database_name', host: 'database_hostname', port: 'database_port', user: 'database_username' },
  1: { uri: 'AIIDADB_REPOSITORY_URI', name: 'AIIDADB_NAME', host: 'AIIDADB_HOST', port: 'AIIDADB_PORT', user: 'AIIDADB_USER' },
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
  const restored = (copy.profiles as Record<string, Record<string, unknown>>)[names[0]!]!;
  const settings = aiidaSettings(restored);
  if (!settings) return undefined;
  const name = target.profileName ?? names[0]!;
  if (target.profileName !== undefined) {
    // A renamed copy is another profile: its own queues (aiida-<uuid>) and daemon, never the original's.
    copy.profiles = { [name]: { ...restored, PROFILE_UUID: randomUUID().replace(/-/g, '') } };
  }
  copy.default_profile = name;
  const keys = KEYS[settings.version];
  // AiiDA builds the URI as 'file://' + path and reads it back without percent-decoding.
  settings.values[keys.uri] = `file://${target.repository}`;
  settings.values[keys.name] = target.database.name;
  settings.values[keys.host] = target.database.host;
  // Another server (restore --host/--user): the profile's role there. Its password stays as it
  // was; a role made by --create-roles has none until one is set.
  settings.values[keys.user] = target.database.user;
  // 1.x wrote the port as a string, 2.x as a number.
  settings.values[keys.port] = settings.version === 1 ? String(target.database.port) : target.database.port;
  return { config: copy, profile: name, aiidaVersion: settings.version };
}

function aiidaSettings(profile: Record<string, unknown>): { version: 1 | 2; values: Record<string, unknown> } | undefined {
  if (isObject(profile.storage) && isObject(profile.storage.config)) return { version: 2, values: profile.storage.config };
  if (Object.keys(profile).some((k) => k.startsWith('AIIDADB_'))) return { version: 1, values: profile };
  return undefined;
}

export type ConfigRestore =
  | { kind: 'aiida'; source: string; target: string; profile: string; aiidaVersion: 1 | 2; config: Record<string, unknown>; merge?: MergePlan }
  /** `identity`: the files ending in `.age` are decrypted into place (an encrypted snapshot). */
  | { kind: 'copy'; source: string; target: string; identity?: string };

/** `--merge-into FILE`: the restored profile added to an existing config.json, a copy of it kept first. */
export interface MergePlan {
  file: string;
  backup: string;
  /** FILE with the profile added (its other profiles untouched). */
  merged: Record<string, unknown>;
}

/** The folders a restore writes configuration to, under the target: replaced by --force. */
export const CONFIG_FOLDERS = ['config', '.aiida'];

/**
 * What the snapshot's config/ becomes: an AiiDA profile in `targetDir/.aiida/config.json` (or
 * merged into `mergeInto`), anything else copied into `targetDir/config/`; undefined without one.
 */
export async function planConfigRestore(
  snapshotDir: string,
  targetDir: string,
  target: AiidaConfigTarget & { mergeInto?: string; identity?: string },
): Promise<ConfigRestore | undefined> {
  const source = join(snapshotDir, 'config');
  if (!(await isFolder(source))) return undefined;
  // An encrypted snapshot's config.json.age, decrypted in memory: no plain copy is written.
  const sealed = await readPlain(join(source, `config.json${AGE_SUFFIX}`), target.identity).then(String, () => undefined);
  const json = await (sealed !== undefined ? Promise.resolve(sealed) : readFile(join(source, 'config.json'), 'utf8')).then(
    (text) => JSON.parse(text) as unknown,
    () => undefined,
  );
  const aiida = json === undefined ? undefined : restoredAiidaConfig(json, target);
  if (!aiida) {
    if (target.mergeInto !== undefined) throw new BackplanError('USAGE', '--merge-into applies to AiiDA profiles; this snapshot holds another configuration');
    return { kind: 'copy', source, target: join(targetDir, 'config'), ...(target.identity !== undefined ? { identity: target.identity } : {}) };
  }
  const merge = target.mergeInto === undefined ? undefined : await planMerge(target.mergeInto, aiida);
  return { kind: 'aiida', source: join(source, 'config.json'), target: join(targetDir, '.aiida', 'config.json'), ...aiida, ...(merge ? { merge } : {}) };
}

/** Refuses (before anything is written) a missing or unreadable FILE and a profile name it has. */
async function planMerge(file: string, restored: RestoredAiidaConfig): Promise<MergePlan> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new BackplanError('RESTORE_REFUSED', `cannot read ${file} to merge the restored profile into: ${e.message}`, { hint: 'name an AiiDA config.json with --merge-into' });
  });
  let existing: unknown;
  try {
    existing = JSON.parse(text);
  } catch (e) {
    throw new BackplanError('RESTORE_REFUSED', `${file} is not valid JSON (${(e as Error).message}); nothing was changed`, { hint: 'fix it, or merge by hand' });
  }
  if (!isObject(existing) || !isObject(existing.profiles)) {
    throw new BackplanError('RESTORE_REFUSED', `${file} is not an AiiDA config.json (no "profiles"); nothing was changed`, { hint: 'name ~/.aiida/config.json, or the one under AIIDA_PATH' });
  }
  if (Object.hasOwn(existing.profiles, restored.profile)) {
    throw new BackplanError('RESTORE_REFUSED', `${file} already has a profile "${restored.profile}"; nothing was changed`, {
      hint: `restore it under another name: --profile-name ${restored.profile}-restored`,
    });
  }
  const profile = (restored.config.profiles as Record<string, unknown>)[restored.profile];
  const merged = { ...existing, profiles: { ...existing.profiles, [restored.profile]: profile } };
  const stamp = new Date().toISOString().replace(/[:.]/g, '').replace(/\d{3}Z$/, 'Z');
  return { file, backup: `${file}.backplan-${stamp}`, merged };
}

/** Writes the restored configuration; folders 0700 and a config.json 0600 (it holds a password). */
export async function restoreConfig(plan: ConfigRestore): Promise<void> {
  if (plan.kind === 'copy') {
    await cp(plan.source, plan.target, { recursive: true, preserveTimestamps: true, errorOnExist: true, force: false, filter: (from) => !isSealed(from) });
    await decryptCopies(plan.source, plan.target, plan.identity);
    return;
  }
  await mkdir(dirname(plan.target), { recursive: true, mode: 0o700 });
  const file = await open(plan.target, 'wx', 0o600);
  try {
    await file.writeFile(JSON.stringify(plan.config, null, 4) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  if (plan.merge) await mergeProfile(plan.merge.file, plan);
}

/** Re-read now (it may have changed since the plan), kept as a copy with its mode, then replaced atomically. */
async function mergeProfile(file: string, restored: RestoredAiidaConfig): Promise<void> {
  const { backup, merged } = await planMerge(file, restored);
  await copyFile(file, backup);
  await chmod(backup, (await stat(file)).mode & 0o777);
  await writeFileAtomic(file, JSON.stringify(merged, null, 4) + '\n');
}

/** Each `<name>.age` under `source` decrypted to `<name>` under `target` (mode 0600). */
async function decryptCopies(source: string, target: string, identity: string | undefined): Promise<void> {
  const [from, to, suffix] = [Buffer.from(source), Buffer.from(target), Buffer.from(AGE_SUFFIX)];
  const under = (root: Buffer, name: Buffer) => Buffer.concat([root, Buffer.from('/'), name]);
  for await (const name of walkFileNames(from)) {
    if (!name.subarray(-suffix.length).equals(suffix)) continue;
    await ageFile(decryptStage(needIdentity(source, identity)), under(from, name), under(to, name.subarray(0, -suffix.length)));
  }
}
