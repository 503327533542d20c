/**
 * The restore facade: plan (reads only, refuses before anything is touched), check (checksums
 * and unsafe archive entries), then execute that very plan — the same object --dry-run prints.
 *
 *   prepareRestore → checkRestoreSources → executeRestore
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { BackplanError } from '../errors.js';
import { run } from '../execute/subprocess.js';
import type { CompleteSnapshot, Destination } from '../destination/types.js';
import { verifySnapshot } from '../record/verify.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import { checkFolderLinks, extractArchive, scanArchives } from './archive.js';
import { loadDeltaApplier } from './chain.js';
import { CONFIG_FOLDERS, planConfigRestore, restoreConfig } from './config.js';
import type { ConfigRestore } from './config.js';
import { dbRestoreCommands, dumpArtefact, inspectTarget, localToolVersion, restoreEnv, runDbCommand } from './database.js';
import type { DbRestoreCommands, DumpArtefact } from './database.js';
import { checkRestoreVersions } from './versions.js';

export interface RestoreRequest {
  /** The snapshot to restore last, after the full base and deltas it builds on (record/chain.ts). */
  chain: CompleteSnapshot[];
  targetDir: string;
  /** The server to restore into; its `name` is the original database's. */
  connection: DatabaseConnection;
  secrets: Secrets;
  database?: string;
  owner?: string;
  noOwner: boolean;
  jobs: number;
  force: boolean;
  /** An AiiDA profile restored under this name (with a fresh PROFILE_UUID). */
  profileName?: string;
  /** An AiiDA config.json to add the restored profile to (a copy kept first). */
  mergeInto?: string;
}

export type RepositoryRestore =
  /** The archive, or the snapshot's repository/ folder. */
  | { method: 'tar' | 'folder'; source: string; target: string }
  /** The incremental strategy's full and then each delta, in order, by applyRepositoryDelta. */
  | { method: 'incremental'; snapshots: CompleteSnapshot[]; target: string };

export interface DatabaseRestore {
  name: string;
  owner: string;
  /** The target server, `name` set to the restored database. */
  connection: DatabaseConnection;
  exists: boolean;
  serverVersion: string;
  dump: DumpArtefact;
  commands: DbRestoreCommands;
}

export interface RestorePlan {
  snapshot: CompleteSnapshot;
  /** Full base first, the restored snapshot last. */
  chain: CompleteSnapshot[];
  targetDir: string;
  /** What a forced restore removes first: only the target's repository/ and configuration folders. */
  replaces: string[];
  repository?: RepositoryRestore;
  config?: ConfigRestore;
  database?: DatabaseRestore;
  hasPassword: boolean;
}

export type Log = (line: string) => void;

/** Reads the target and the server, and refuses (RESTORE_REFUSED, TOOL_VERSION, SNAPSHOT) before anything is touched. */
export async function prepareRestore(req: RestoreRequest): Promise<RestorePlan> {
  const { chain } = req;
  const snapshot = chain.at(-1)!;
  if (chain[0]!.record.repository?.strategy === INCREMENTAL) await loadDeltaApplier(snapshot.id);
  const targetDir = req.targetDir;
  checkOverlap(targetDir, dirname(snapshot.dir));
  const repositoryDir = join(targetDir, 'repository');
  const name = req.database ?? snapshot.record.database?.name ?? req.connection.name;
  const connection = { ...req.connection, name };
  const database = await planDatabase(req, snapshot, connection);
  const existing = await existingEntries(targetDir);
  refuseConflicts(req, targetDir, existing, database);
  if (database) checkRestoreVersions(await versionsOf(snapshot, database));
  return {
    snapshot,
    chain,
    targetDir,
    replaces: ['repository', ...CONFIG_FOLDERS].filter((n) => existing.includes(n)).map((n) => join(targetDir, n)),
    repository: repositoryRestore(chain, repositoryDir),
    config: await planConfigRestore(snapshot.dir, targetDir, { repository: repositoryDir, database: connection, profileName: req.profileName, mergeInto: req.mergeInto }),
    database,
    hasPassword: req.secrets.pgPassword !== undefined,
  };
}

/** Restoring into the destination would change snapshots; replacing a folder holding it would delete them. */
function checkOverlap(targetDir: string, destination: string): void {
  const replaced = ['repository', ...CONFIG_FOLDERS].map((n) => join(targetDir, n));
  const clash = [targetDir, ...replaced].find((p) => within(p, destination) || (replaced.includes(p) && within(destination, p)));
  if (clash) {
    throw new BackplanError('USAGE', `the restore target ${clash} overlaps the backup destination ${destination}`, { hint: 'restore into a folder outside the destination' });
  }
}

function within(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

async function planDatabase(req: RestoreRequest, snapshot: CompleteSnapshot, connection: DatabaseConnection): Promise<DatabaseRestore | undefined> {
  const dump = dumpArtefact(snapshot.record);
  if (!dump || !snapshot.record.database) return undefined;
  if (req.noOwner && dump.format === 'plain') {
    throw new BackplanError('USAGE', '--no-owner applies to custom and directory dumps; a plain SQL dump sets owners as dumped', { hint: 'leave out --no-owner' });
  }
  const server = await inspectTarget(connection, req.secrets, connection.name);
  const owner = req.owner ?? connection.user;
  const commands = dbRestoreCommands({
    dump,
    snapshotDir: snapshot.dir,
    name: connection.name,
    owner,
    jobs: req.jobs,
    noOwner: req.noOwner,
    dropFirst: server.exists,
    tempDir: req.targetDir,
  });
  return { name: connection.name, owner, connection, exists: server.exists, serverVersion: server.version, dump, commands };
}

/** The names in the target folder; none when it does not exist yet. */
async function existingEntries(dir: string): Promise<string[]> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return [];
  if (!st.isDirectory()) throw new BackplanError('RESTORE_REFUSED', `the restore target ${dir} exists and is not a folder`, { hint: 'name a new or empty folder with --to' });
  return (await readdir(dir)).sort();
}

function refuseConflicts(req: RestoreRequest, targetDir: string, existing: string[], database: DatabaseRestore | undefined): void {
  if (req.force) return;
  const conflicts: string[] = [];
  if (existing.length > 0) {
    const shown = existing.slice(0, 5).join(', ') + (existing.length > 5 ? `, … (${existing.length} entries)` : '');
    conflicts.push(`the target folder ${targetDir} is not empty (it holds ${shown})`);
  }
  if (database?.exists) conflicts.push(`the database ${database.name} already exists on ${serverName(database.connection)}`);
  if (conflicts.length === 0) return;
  throw new BackplanError('RESTORE_REFUSED', `refusing to restore: ${conflicts.join(', and ')}; nothing was changed`, {
    hint: `--force overrides: it replaces ${['repository', ...CONFIG_FOLDERS].map((n) => join(targetDir, n)).join(', ')}${database?.exists ? ` and drops and recreates ${database.name}` : ''}; or pick another --to / --database`,
  });
}

export function serverName(c: DatabaseConnection): string {
  return `${c.user}@${c.host}:${c.port}`;
}

async function versionsOf(snapshot: CompleteSnapshot, db: DatabaseRestore) {
  const recorded = snapshot.record.database!;
  const tool = db.dump.format === 'plain' ? 'psql' : 'pg_restore';
  return { dumpServer: recorded.serverVersion, pgDump: recorded.pgDumpVersion, targetServer: db.serverVersion, tool: { name: tool, version: await localToolVersion(tool) } } as const;
}

export const INCREMENTAL = 'incremental';

/** An archive or an rsync folder; a snapshot of the incremental strategy, its whole chain. */
function repositoryRestore(chain: CompleteSnapshot[], target: string): RepositoryRestore | undefined {
  const base = chain[0]!;
  if (base.record.repository?.strategy === INCREMENTAL) return { method: 'incremental', snapshots: chain, target };
  for (const a of base.record.artefacts) {
    if (/^repository\.tar(\.zst|\.gz)?$/.test(a.path)) return { method: 'tar', source: join(base.dir, a.path), target };
    if (a.covers?.folder === 'repository') return { method: 'folder', source: join(base.dir, 'repository'), target };
  }
  return undefined;
}

/** The tar archives a repository restore reads (an incremental's delta without files has none). */
export function repositoryArchives(repo: RepositoryRestore): string[] {
  if (repo.method !== 'incremental') return repo.method === 'tar' ? [repo.source] : [];
  return repo.snapshots.flatMap((s) => (s.record.repository?.files === 0 ? [] : s.record.artefacts.filter((a) => /^repository(-delta)?\.tar\.zst$/.test(a.path)).map((a) => join(s.dir, a.path))));
}

/**
 * Every snapshot of the chain re-hashed against its snapshot.json (each file of a folder
 * artefact too), then the repository listed for entries that would land outside the target.
 */
export async function checkRestoreSources(plan: RestorePlan, local: Destination, log: Log, opts: { signal?: AbortSignal; verified?: string[] } = {}): Promise<void> {
  for (const snapshot of plan.chain.filter((s) => !opts.verified?.includes(s.id))) {
    log(`checking the checksums of ${snapshot.id}`);
    const report = await verifySnapshot(local, snapshot.id, { deep: true });
    if (report.problems.length > 0) {
      const list = report.problems.map((p) => `${p.path}: ${p.problem}`).join('; ');
      throw new BackplanError('VERIFY_FAILED', `snapshot ${snapshot.id} is damaged (${list}); refusing to restore it`, {
        hint: `backplan verify shows every problem; restore an older snapshot`,
      });
    }
  }
  const repo = plan.repository;
  if (!repo) return;
  const archives = repositoryArchives(repo);
  if (archives.length > 0) {
    log(`checking ${archives.join(', ')} for entries that would land outside ${repo.target}`);
    const { files, bytes } = await scanArchives(archives, opts.signal);
    log(`${files} files (${bytes} bytes), every entry stays inside`);
  }
  if (repo.method === 'folder') await checkFolderLinks(repo.source);
}

/** Runs the plan: files and database side by side; the first failure stops the other. */
export async function executeRestore(plan: RestorePlan, secrets: Secrets, log: Log, signal?: AbortSignal): Promise<void> {
  for (const path of plan.replaces) {
    log(`removing ${path} (--force)`);
    await rm(path, { recursive: true, force: true });
  }
  await mkdir(plan.targetDir, { recursive: true, mode: 0o700 });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let first: unknown;
  const guard = (task: Promise<void>) =>
    task.catch((e: unknown) => {
      first ??= e;
      stop.abort();
    });
  try {
    await Promise.all([guard(restoreFiles(plan, log, stop.signal)), plan.database && guard(restoreDatabase(plan.database, secrets, log, stop.signal))]);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (first !== undefined) throw first;
}

async function restoreFiles(plan: RestorePlan, log: Log, signal: AbortSignal): Promise<void> {
  const repo = plan.repository;
  if (repo) {
    await mkdir(repo.target, { recursive: true, mode: 0o700 });
    await restoreRepository(repo, log, signal);
  }
  if (plan.config) {
    log(`restoring the configuration into ${plan.config.target}`);
    await restoreConfig(plan.config);
  }
}

async function restoreRepository(repo: RepositoryRestore, log: Log, signal: AbortSignal): Promise<void> {
  if (repo.method === 'incremental') {
    const apply = await loadDeltaApplier(repo.snapshots.at(-1)!.id);
    for (const s of repo.snapshots) {
      log(`applying the repository of ${s.id} (${s.record.kind}) onto ${repo.target}`);
      await apply(s.dir, s.record, repo.target);
    }
    return;
  }
  log(`restoring ${repo.source} into ${repo.target}`);
  if (repo.method === 'tar') await extractArchive(repo.source, repo.target, signal);
  else await run(rsyncArgv(repo.source, repo.target), { signal, stdout: 'ignore' });
}

export function rsyncArgv(source: string, target: string): string[] {
  return ['rsync', '--archive', '--hard-links', '--', `${source}/`, `${target}/`];
}

/** createdb, then the load; a database this restore created and could not fill is dropped again. */
async function restoreDatabase(db: DatabaseRestore, secrets: Secrets, log: Log, signal: AbortSignal): Promise<void> {
  const env = restoreEnv(db.connection, db.name, secrets);
  if (db.commands.drop) {
    log(`dropping the existing database ${db.name} (--force)`);
    await runDbCommand(db.commands.drop, env, signal);
  }
  log(`creating the database ${db.name} on ${serverName(db.connection)}, owner ${db.owner}`);
  await runDbCommand(db.commands.create, env, signal);
  try {
    for (const command of db.commands.load) {
      log(`loading ${db.dump.path} (${db.dump.format}) into ${db.name}`);
      await runDbCommand(command, env, signal);
    }
  } catch (e) {
    // Not under `signal`: this must run even when the restore was interrupted.
    const dropped = await runDbCommand({ stages: [['dropdb', '--no-password', '--if-exists', '--', db.name]] }, env).then(
      () => true,
      () => false,
    );
    log(dropped ? `dropped the partly restored database ${db.name}` : `could not drop the partly restored database ${db.name}: drop it by hand`);
    throw e;
  } finally {
    if (db.commands.tempFile) await rm(db.commands.tempFile, { force: true });
  }
}
