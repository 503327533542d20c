/**
 * The restore facade: plan (reads only; its preflight refuses before anything is touched, with
 * every problem at once), check (checksums and unsafe archive entries), then execute that very
 * plan — the same object --dry-run prints.
 *
 *   prepareRestore → checkRestoreSources → executeRestore
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { BackplanError } from '../errors.js';
import { removeTree } from '../execute/remove-tree.js';
import type { CompleteSnapshot, Destination } from '../destination/types.js';
import { verifySnapshot } from '../record/verify.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import { scanArchives } from './archive.js';
import { CONFIG_FOLDERS, planConfigRestore, restoreConfig } from './config.js';
import type { ConfigRestore } from './config.js';
import { adminSecrets, asAdmin } from './admin.js';
import type { AdminRole } from './admin.js';
import { dbRestoreCommands, dumpArtefact, inspectTarget, restoreEnv, runDbCommand } from './database.js';
import type { DbRestoreCommands, DumpArtefact, TargetServer } from './database.js';
import { askVersion, checkIdentity, loaderOf, preflight } from './preflight.js';
import type { LoaderVersion } from './preflight.js';
import { isStreamedArtefact } from '../record/streamed.js';
import { artefactSource, checkInPlace, sourceName } from './source.js';
import { repositoryArchives, repositoryRestore, restoreRepository } from './repository.js';
import type { RepositoryRestore } from './repository.js';
import { createRoles, dropRoles, planRoles, rolesToAsk } from './roles.js';
import type { RolesPlan } from './roles.js';

export interface RestoreRequest {
  /** The snapshot to restore last, after the full base and deltas it builds on (record/chain.ts). */
  chain: CompleteSnapshot[];
  targetDir: string;
  /** The server to restore into; its `name` is the original database's. */
  connection: DatabaseConnection;
  secrets: Secrets;
  /** Creates, drops and loads the database when set (admin.ts); the owner stays the profile's role. */
  admin?: AdminRole;
  database?: string;
  owner?: string;
  noOwner: boolean;
  noPrivileges: boolean;
  /** Creates the roles the load needs that the target lacks, from the snapshot's database.roles.sql (roles.ts). */
  createRoles: boolean;
  jobs: number;
  force: boolean;
  /** An AiiDA profile restored under this name (with a fresh PROFILE_UUID). */
  profileName?: string;
  /** An AiiDA config.json to add the restored profile to (a copy kept first). */
  mergeInto?: string;
  /** Only the repository paths these patterns select (include.ts); configuration and database left alone... */
  include?: string[];
  /** ...unless this is set: then the database is restored too. */
  withDatabase?: boolean;
  /** The age identity file for an encrypted snapshot (--identity, BACKPLAN_AGE_IDENTITY_FILE): its path only. */
  identity?: string;
  /** Where the chain's large artefacts were left by fetch (LocalSnapshots.remote): streamed from there. */
  remote?: Destination;
}

export interface DatabaseRestore {
  name: string;
  owner: string;
  /** The target server, `name` set to the restored database, `user` the role the commands run as. */
  connection: DatabaseConnection;
  /** Set when that role is an administrative one rather than the profile's. */
  admin?: { user: string; source: AdminRole['source'] };
  exists: boolean;
  serverVersion: string;
  dump: DumpArtefact;
  commands: DbRestoreCommands;
  /** The roles the load needs that the target lacks; `create` runs first under --create-roles. */
  roles: RolesPlan;
  createRoles: boolean;
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
  /** What the preflight could not check, or found tight. */
  notes: string[];
}

export type Log = (line: string) => void;

/**
 * Reads the target and the server, then runs the preflight (preflight.ts): every problem is
 * refused at once (RESTORE_REFUSED) before anything is touched. SNAPSHOT, USAGE and DATABASE
 * (the server cannot be reached) are thrown on their own, as nothing else can be checked then.
 */
export async function prepareRestore(req: RestoreRequest): Promise<RestorePlan> {
  const { chain } = req;
  const snapshot = chain.at(-1)!;
  await checkIdentity(chain, req.targetDir, req.identity);
  const targetDir = req.targetDir;
  checkOverlap(targetDir, dirname(snapshot.dir));
  const repositoryDir = join(targetDir, 'repository');
  const name = req.database ?? snapshot.record.database?.name ?? req.connection.name;
  const connection = { ...req.connection, name };
  const include = req.include?.length ? req.include : undefined;
  const { database, server, loaderVersion } = (!include || req.withDatabase ? await planDatabase(req, snapshot, connection) : undefined) ?? {};
  const existing = await existingEntries(targetDir);
  const repository = repositoryRestore(chain, repositoryDir, req.identity, req.remote);
  if (repository && include) repository.include = include;
  const plan: RestorePlan = {
    snapshot,
    chain,
    targetDir,
    replaces: (include ? ['repository'] : ['repository', ...CONFIG_FOLDERS]).filter((n) => existing.includes(n)).map((n) => join(targetDir, n)),
    repository,
    config: include ? undefined : await planConfigRestore(snapshot.dir, targetDir, { repository: repositoryDir, database: connection, profileName: req.profileName, mergeInto: req.mergeInto, identity: req.identity }),
    database,
    hasPassword: adminSecrets(req.secrets, req.admin).pgPassword !== undefined,
    notes: [],
  };
  plan.notes = await preflight(plan, { existing, force: req.force, server, loaderVersion });
  return plan;
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

/** The database's commands, and what the server says, asked as the role that will run them. */
async function planDatabase(req: RestoreRequest, snapshot: CompleteSnapshot, connection: DatabaseConnection): Promise<{ database: DatabaseRestore; server: TargetServer; loaderVersion: Promise<LoaderVersion> } | undefined> {
  const dump = dumpArtefact(snapshot.record);
  if (!dump || !snapshot.record.database) return undefined;
  const plainOnly = [req.noOwner && '--no-owner', req.noPrivileges && '--no-privileges'].filter(Boolean).join(' and ');
  if (plainOnly && dump.format === 'plain') {
    throw new BackplanError('USAGE', `${plainOnly} apply to custom and directory dumps; a plain SQL dump sets owners and privileges as dumped`, {
      hint: 'leave them out; on a server that lacks the roles the dump names, --create-roles creates them first',
    });
  }
  const owner = req.owner ?? connection.user;
  const runAs = asAdmin(connection, req.admin);
  const runSecrets = adminSecrets(req.secrets, req.admin);
  const record = snapshot.record.database;
  // Asked while the server answers: Debian's pg_wrapper (perl) takes tens of ms to start the client.
  const version = askVersion(loaderOf(dump));
  const server = await inspectTarget(runAs, runSecrets, connection.name, owner, rolesToAsk(record, owner));
  const rolesFile = snapshot.record.artefacts.find((a) => /^database\.roles\.sql(\.age)?$/.test(a.path))?.path;
  const roles = await planRoles(record, snapshot.dir, { noOwner: req.noOwner, noPrivileges: req.noPrivileges, createRoles: req.createRoles, owner, rolesFile, identity: req.identity }, server.roles, { connection: runAs, secrets: runSecrets });
  const commands = dbRestoreCommands({
    dump,
    file: dump.format === 'directory' ? join(snapshot.dir, dump.path) : artefactSource(snapshot, dump.path, req.remote),
    name: connection.name,
    owner,
    jobs: req.jobs,
    noOwner: req.noOwner,
    noPrivileges: req.noPrivileges,
    dropFirst: server.exists,
    tempDir: req.targetDir,
    notAsOwner: runAs.user !== owner,
    identity: req.identity,
  });
  const admin = req.admin && { user: req.admin.user, source: req.admin.source };
  const database = { name: connection.name, owner, connection: runAs, ...(admin ? { admin } : {}), exists: server.exists, serverVersion: server.version, dump, commands, roles, createRoles: req.createRoles };
  return { database, server, loaderVersion: version };
}

/** The names in the target folder; none when it does not exist yet. */
async function existingEntries(dir: string): Promise<string[]> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return [];
  if (!st.isDirectory()) throw new BackplanError('RESTORE_REFUSED', `the restore target ${dir} exists and is not a folder`, { hint: 'name a new or empty folder with --to' });
  return (await readdir(dir)).sort();
}

export function serverName(c: DatabaseConnection): string {
  return `${c.user}@${c.host}:${c.port}`;
}

/**
 * Every snapshot of the chain re-hashed against its snapshot.json (each file of a folder
 * artefact too), then the repository listed for entries that would land outside the target.
 * With `streamedFrom` (the destination a fetch left the large artefacts on, source.ts), those are
 * hashed as they stream instead: the archives in this listing pass, the rest (checked there
 * first, checkInPlace) as they are restored.
 */
export async function checkRestoreSources(plan: RestorePlan, local: Destination, log: Log, opts: { signal?: AbortSignal; verified?: string[]; streamedFrom?: Destination } = {}): Promise<void> {
  const remote = opts.streamedFrom;
  for (const snapshot of plan.chain.filter((s) => !opts.verified?.includes(s.id))) {
    log(`checking the checksums of ${snapshot.id}${remote ? ` (its large artefacts on ${remote.spec}, and as they stream from there)` : ''}`);
    const report = await verifySnapshot(local, snapshot.id, { deep: true, skip: remote && isStreamedArtefact });
    const problems = [...report.problems, ...(remote ? await checkInPlace(remote, snapshot) : [])];
    if (problems.length > 0) {
      const list = problems.map((p) => `${p.path}: ${p.problem}`).join('; ');
      throw new BackplanError('VERIFY_FAILED', `snapshot ${snapshot.id} is damaged (${list}); refusing to restore it`, {
        hint: `backplan verify shows every problem; restore an older snapshot`,
      });
    }
  }
  const repo = plan.repository;
  if (!repo) return;
  const archives = repositoryArchives(repo);
  if (archives.length > 0) {
    log(`checking ${archives.map(sourceName).join(', ')} for entries that would land outside ${repo.target}`);
    const { files, bytes } = await scanArchives(archives, opts.signal, repo.identity);
    log(`${files} files (${bytes} bytes), every entry stays inside`);
  }
}

/**
 * Runs the plan. Under --create-roles the missing roles come first (one transaction). An
 * existing database (--force) is then dropped and created before any file is written, so that
 * a drop still failing (a session opened since the preflight) leaves the files alone; a new one
 * is created beside the files, as a user running createdb and tar side by side would. Files and
 * load run side by side, the first failure stopping the other and dropping the database, and
 * the roles, this restore created. `secrets` are those of the role the database commands run
 * as (admin.ts: adminSecrets).
 */
export async function executeRestore(plan: RestorePlan, secrets: Secrets, log: Log, signal?: AbortSignal): Promise<void> {
  const db = plan.database;
  const created = db?.roles.create;
  if (db && created) {
    log(`creating the roles ${created.roles.join(', ')} on ${db.connection.host}:${db.connection.port} from database.roles.sql, without passwords (--create-roles)`);
    await createRoles(db.connection, secrets, created.statements);
  }
  let databaseCreated = false;
  // The outer signal: once started, createdb finishes, so that databaseCreated tells the truth.
  const create = async (db: DatabaseRestore) => {
    await createDatabase(db, secrets, log, signal);
    databaseCreated = true;
  };
  const createFirst = db?.commands.drop !== undefined;
  const load = db && (async (stop: AbortSignal) => {
    if (!createFirst) await create(db);
    await loadDatabase(db, secrets, log, stop);
  });
  try {
    if (db && createFirst) await create(db);
    await restoreAll(plan, load, log, signal).catch(async (e: unknown) => {
      if (db && databaseCreated) await dropPartial(db, secrets, log);
      throw e;
    });
  } catch (e) {
    if (db && created) await dropCreatedRoles(db, created.roles, secrets, log);
    throw e;
  }
}

async function dropCreatedRoles(db: DatabaseRestore, roles: string[], secrets: Secrets, log: Log): Promise<void> {
  const dropped = await dropRoles(db.connection, secrets, roles).then(
    () => true,
    () => false,
  );
  log(dropped ? `dropped the roles this restore created (${roles.join(', ')})` : `could not drop the roles this restore created (${roles.join(', ')}): drop them by hand`);
}

/** Files and `load` (the database's part) side by side; the first failure stops the other. */
async function restoreAll(plan: RestorePlan, load: ((stop: AbortSignal) => Promise<void>) | undefined, log: Log, signal?: AbortSignal): Promise<void> {
  for (const path of plan.replaces) {
    log(`removing ${path} (--force)`);
    await removeTree(path, signal);
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
    await Promise.all([guard(restoreFiles(plan, log, stop.signal)), load && guard(load(stop.signal))]);
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

/** Under --force the old database is dropped first; then createdb, as admin.ts's role when there is one. */
async function createDatabase(db: DatabaseRestore, secrets: Secrets, log: Log, signal?: AbortSignal): Promise<void> {
  const env = restoreEnv(db.connection, db.name, secrets);
  if (db.commands.drop) {
    log(`dropping the existing database ${db.name} (--force)`);
    await runDbCommand(db.commands.drop, env, signal);
  }
  const as = `${db.connection.user}${db.admin ? ` (from ${db.admin.source})` : ''}`;
  log(`creating the database ${db.name} on ${db.connection.host}:${db.connection.port} as ${as}, owner ${db.owner}`);
  await runDbCommand(db.commands.create, env, signal);
}

async function loadDatabase(db: DatabaseRestore, secrets: Secrets, log: Log, signal: AbortSignal): Promise<void> {
  const env = restoreEnv(db.connection, db.name, secrets);
  try {
    for (const command of db.commands.load) {
      log(`loading ${db.dump.path} (${db.dump.format}) into ${db.name}`);
      await runDbCommand(command, env, signal);
    }
  } finally {
    if (db.commands.tempFile) await rm(db.commands.tempFile, { force: true });
  }
}

/** Not under a signal: this must run even when the restore was interrupted. */
async function dropPartial(db: DatabaseRestore, secrets: Secrets, log: Log): Promise<void> {
  const env = restoreEnv(db.connection, db.name, secrets);
  const dropped = await runDbCommand({ stages: [['dropdb', '--no-password', '--if-exists', '--', db.name]] }, env).then(
    () => true,
    () => false,
  );
  log(dropped ? `dropped the partly restored database ${db.name}` : `could not drop the partly restored database ${db.name}: drop it by hand`);
}
