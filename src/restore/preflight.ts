/**
 * A restore's preflight (#11): every check that can fail, run before anything is removed or
 * written, all gathered and refused at once (RESTORE_REFUSED), each problem with its fix. It
 * only reads: the target folder, the tools' `--version`, the free space under the target, and
 * what the server said about the creating role, the owner and the database (database.ts).
 * prepareRestore runs it, so `--dry-run` and `verify --restore-test` refuse exactly alike.
 */
import { constants } from 'node:fs';
import { access, lstat, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { discard } from '../util/discard.js';
import type { CompleteSnapshot } from '../destination/types.js';
import { BackplanError, isBackplanError } from '../errors.js';
import { decryptStage, IDENTITY_HINT, isSealed, unpackStages } from '../execute/age.js';
import { clientForVersion } from '../execute/pg-wrapper.js';
import { isStreamedArtefact } from '../record/streamed.js';
import { resolveCommand } from '../execute/which.js';
import { pipeline, run } from '../execute/subprocess.js';
import { incrementalExtra } from '../incremental/record.js';
import { walkFiles } from '../record/checksums.js';
import type { DatabaseConnection } from '../resolve/types.js';
import { formatBytes } from '../util/bytes.js';
import type { DbRestoreCommands, DumpArtefact, Session, TargetServer } from './database.js';
import type { RolesPlan } from './roles.js';
import { checkRestoreVersions, toolVersion } from './versions.js';

export interface Problem {
  problem: string;
  fix: string;
}

/** What the preflight reads of a restore plan; a RestorePlan is one. */
export interface PreflightPlan {
  snapshot: CompleteSnapshot;
  chain: CompleteSnapshot[];
  targetDir: string;
  replaces: string[];
  /** `source`: a local path, or an artefact streamed from the destination (source.ts), by its name. */
  repository?: { method: string; target: string; source?: string | { name: string }; include?: string[] };
  database?: {
    name: string;
    owner: string;
    /** The server, as the role that creates the database. */
    connection: DatabaseConnection;
    admin?: { user: string; source: string };
    dump: DumpArtefact;
    commands: DbRestoreCommands;
    /** The roles the load needs that the target lacks, and under --create-roles how they are made. */
    roles: RolesPlan;
    createRoles: boolean;
  };
}

export interface PreflightFacts {
  /** The target folder's entries; none when it does not exist. */
  existing: string[];
  force: boolean;
  /** Set when the plan restores a database. */
  server?: TargetServer;
  /** The loader's `--version`, asked while the server was; asked here without it. */
  loaderVersion?: Promise<LoaderVersion>;
}

/** What `pg_restore --version` (or psql's) printed, or how it failed. */
export type LoaderVersion = { stdout: string } | { error: unknown };

/** The dump's loader: pg_restore, or psql for a plain SQL dump. */
export function loaderOf(dump: DumpArtefact): 'psql' | 'pg_restore' {
  return dump.format === 'plain' ? 'psql' : 'pg_restore';
}

/**
 * `tool --version` of the binary the restore will run (execute/pg-wrapper.ts), never rejecting (a
 * missing tool is the PATH check's to report).
 */
export function askVersion(tool: string): Promise<LoaderVersion> {
  const client = clientForVersion(tool);
  return run([client.program, '--version'], { env: client.env }).then(
    (r) => ({ stdout: r.stdout ?? '' }),
    (error: unknown) => ({ error }),
  );
}

/** A decompressed dump is taken as this many times its compressed artefact (zstd and gzip shrink dumps about 3–5×). */
export const DUMP_EXPANSION = 4;

/**
 * An encrypted snapshot needs its identity before anything of it is read: without one, or with
 * one that matches none of its recipients, the restore is refused here, before planning reads
 * the configuration or anything is written. Each snapshot of the chain has its smallest
 * encrypted artefact (the configuration, the roles) decrypted to nowhere as the test.
 */
export async function checkIdentity(chain: CompleteSnapshot[], targetDir: string, identity: string | undefined): Promise<void> {
  const snapshot = chain.at(-1)!;
  const refuse = (problem: string) => new BackplanError('RESTORE_REFUSED', `refusing to restore ${snapshot.id} into ${targetDir}: ${problem}; nothing was changed`, { hint: IDENTITY_HINT });
  for (const s of chain) {
    // One a fetch copies here (record/streamed.ts): a remote's large artefacts are not local.
    const smallest = s.record.artefacts.filter((a) => isSealed(a.path) && !isStreamedArtefact(a)).sort((a, b) => a.bytes - b.bytes)[0];
    if (!smallest) continue;
    const recipients = s.record.encryption?.recipients ?? [];
    const to = recipients.length > 0 ? ` to ${recipients.map(shortKey).join(', ')}` : '';
    if (identity === undefined) throw refuse(`${s.id} is encrypted with age${to}, and no identity was given`);
    await pipeline([decryptStage(identity, join(s.dir, smallest.path))], { output: discard() }).catch((e: unknown) => {
      const said = isBackplanError(e) ? /age: error: (.*)/.exec(e.details.stderrTail ?? '')?.[1] : undefined;
      throw refuse(`the identity ${identity} cannot decrypt ${s.id} (encrypted${to})${said ? `: ${said}` : ''}`);
    });
  }
}

/** `age1qyqs…k3x9` / `ssh-ed25519 …@host`: enough to tell keys apart in a message. */
function shortKey(key: string): string {
  const [type, body, comment] = key.split(' ');
  if (body === undefined) return `${key.slice(0, 10)}…${key.slice(-4)}`;
  return `${type} ${comment ?? `${body.slice(0, 8)}…`}`;
}

/** Runs every check; throws RESTORE_REFUSED listing all problems, or returns notes worth showing. */
export async function preflight(plan: PreflightPlan, facts: PreflightFacts): Promise<string[]> {
  const notes: string[] = [];
  const problems = [
    ...conflicts(plan, facts),
    ...(plan.database && facts.server ? roleProblems(plan.database, facts.server, facts.force) : []),
    ...(plan.database && facts.server ? missingRoleProblems(plan, plan.database, facts.server) : []),
    ...(await toolProblems(plan, facts)),
    ...(await targetProblems(plan, notes)),
  ];
  if (problems.length > 0) throw refusal(plan, problems);
  return notes;
}

function refusal(plan: PreflightPlan, problems: Problem[]): BackplanError {
  const n = problems.length;
  const lines = [`refusing to restore ${plan.snapshot.id} into ${plan.targetDir}: ${n} problem${n === 1 ? '' : 's'}, nothing was changed`];
  for (const p of problems) lines.push(`  - ${p.problem}`, `    fix: ${p.fix}`);
  return new BackplanError('RESTORE_REFUSED', lines.join('\n'), { hint: 'fix the above and run the same command again; --dry-run runs these checks without changing anything' });
}

function conflicts(plan: PreflightPlan, facts: PreflightFacts): Problem[] {
  if (facts.force) return [];
  const problems: Problem[] = [];
  const { existing } = facts;
  if (existing.length > 0) {
    const shown = existing.slice(0, 5).join(', ') + (existing.length > 5 ? `, … (${existing.length} entries)` : '');
    problems.push({
      problem: `the target folder ${plan.targetDir} is not empty (it holds ${shown})`,
      fix: `--force replaces its repository/ and config/ (nothing else in it), or pick another --to`,
    });
  }
  const db = plan.database;
  const sessions = facts.server?.existing?.sessions;
  if (db && sessions) {
    problems.push({
      problem: `the database ${db.name} already exists on ${server(db.connection)}${sessions.length > 0 ? ` and is in use (${sessionList(sessions)})` : ''}`,
      fix: `--force drops and recreates it${sessions.length > 0 ? ' once nobody is connected' : ''}, or pick another --database`,
    });
  }
  return problems;
}

/** Whether the creating role may create (and, under --force, drop) the database for its owner. */
function roleProblems(db: NonNullable<PreflightPlan['database']>, target: TargetServer, force: boolean): Problem[] {
  const problems: Problem[] = [];
  const { creator } = target;
  const where = server(db.connection);
  const who = db.admin ? `the administrative role ${creator.name} (from ${db.admin.source})` : `the profile's role ${creator.name}`;
  const su = target.superuser ?? 'postgres';
  const orAdmin = db.admin
    ? `or name a role that can: --admin-user ${su}`
    : `or let an administrative role create it, still owned by ${db.owner}: --admin-user ${su} (or PGUSER=${su} in the environment)`;
  if (!creator.superuser && !creator.createdb) {
    problems.push({
      problem: `${who} cannot create databases on ${where} (it has neither CREATEDB nor SUPERUSER)`,
      fix: `as a superuser, run  ALTER ROLE ${quoteIdent(creator.name)} CREATEDB;  ${orAdmin}`,
    });
  }
  const ownerCreated = db.roles.create?.roles.includes(db.owner) ?? false;
  if (!target.ownerExists && !ownerCreated) {
    problems.push({ problem: `the owner role ${db.owner} does not exist on ${where}`, fix: `create it (CREATE ROLE ${quoteIdent(db.owner)} LOGIN;) or name an existing role with --owner` });
  } else if (!creator.superuser && creator.name !== db.owner && !creator.memberOfOwner) {
    problems.push({
      problem: `${who} cannot make ${db.owner} the owner of ${db.name} (it is neither a superuser nor a member of ${db.owner})`,
      fix: `as a superuser, run  GRANT ${quoteIdent(db.owner)} TO ${quoteIdent(creator.name)};  ${orAdmin}`,
    });
  }
  const existing = target.existing;
  if (force && existing && !existing.canDrop) {
    problems.push({
      problem: `${who} cannot drop the existing database ${db.name} (owned by ${existing.owner})`,
      fix: `restore into another --database, or as ${existing.owner} or a superuser: --admin-user ${su}`,
    });
  }
  if (force && existing && existing.sessions.length > 0) {
    problems.push({
      problem: `the database ${db.name} on ${where} is in use (${sessionList(existing.sessions)}), and a database in use cannot be dropped`,
      fix: 'stop them first (for AiiDA: verdi daemon stop, and close verdi shells and notebooks on this profile), or restore into another --database',
    });
  }
  return problems;
}

/**
 * Roles the dump names that the target lacks (roles.ts): refused with both fixes, or under
 * --create-roles, whatever would keep them from being created.
 */
function missingRoleProblems(plan: PreflightPlan, db: NonNullable<PreflightPlan['database']>, target: TargetServer): Problem[] {
  const { missing, create } = db.roles;
  const where = server(db.connection);
  const su = target.superuser ?? 'postgres';
  const named = [...new Set([...missing.owners, ...missing.grantees, ...missing.others])].sort();
  if (!db.createRoles) {
    if (named.length === 0) return [];
    const uses = named.map((n) => `${n} (${[missing.owners.includes(n) && 'owns objects', missing.grantees.includes(n) && 'named in GRANTs', missing.others.includes(n) && 'named by a policy or user mapping'].filter(Boolean).join(', ')})`);
    const leaveOut = [missing.owners.length > 0 && '--no-owner', missing.grantees.length > 0 && '--no-privileges'].filter(Boolean).join(' ');
    const without =
      db.dump.format === 'plain'
        ? ' (a plain SQL dump cannot leave them out: --no-owner and --no-privileges need a custom or directory dump)'
        : missing.others.length > 0
          ? '; a role a policy or user mapping names cannot be left out'
          : `, or restore without them: ${leaveOut} (${[missing.owners.length > 0 && `every object owned by ${db.owner}`, missing.grantees.length > 0 && 'no GRANTs'].filter(Boolean).join(', ')})`;
    return [
      {
        problem: `the dump names roles that do not exist on ${where}: ${uses.join(', ')}`,
        fix: `--create-roles creates them from the snapshot's database.roles.sql, without passwords${without}`,
      },
    ];
  }
  const problems: Problem[] = [];
  if (!db.roles.recorded) {
    problems.push({
      problem: `--create-roles: ${plan.snapshot.id} does not record the roles its dump names (it was made before backplan kept them)`,
      fix: 'leave out --create-roles and create the roles by hand, or restore without them: --no-owner --no-privileges',
    });
  }
  if (db.roles.undefinedRoles.length > 0) {
    problems.push({ problem: `--create-roles: the snapshot's database.roles.sql does not define ${db.roles.undefinedRoles.join(', ')}`, fix: 'create them by hand on the target server' });
  }
  if (create && db.roles.refused !== undefined) {
    problems.push({
      problem: `${db.connection.user} cannot create the roles ${create.roles.join(', ')} on ${where}: ${db.roles.refused}`,
      fix: `create them as a role with CREATEROLE (SUPERUSER for roles with superuser attributes): --admin-user ${su}; or restore without them: --no-owner --no-privileges`,
    });
  }
  return problems;
}

function sessionList(sessions: Session[]): string {
  const shown = sessions.slice(0, 5).map((s) => `${s.application ?? 'a client'} (pid ${s.pid}${s.user ? `, role ${s.user}` : ''}${s.client ? `, from ${s.client}` : ''})`);
  const more = sessions.length > 5 ? `, and ${sessions.length - 5} more` : '';
  return `${sessions.length} other session${sessions.length === 1 ? '' : 's'}: ${shown.join(', ')}${more}`;
}

function server(c: DatabaseConnection): string {
  return `${c.host}:${c.port}`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const POSTGRES_CLIENT = 'install the PostgreSQL client tools (e.g. apt-get install postgresql-client) and put them on PATH';
const INSTALL: Record<string, string> = {
  zstd: 'install zstd (e.g. apt-get install zstd)',
  gzip: 'install gzip',
  rsync: 'install rsync (e.g. apt-get install rsync)',
  sqlite3: 'install the sqlite3 command-line tool (e.g. apt-get install sqlite3)',
  age: 'install age (e.g. apt-get install age)',
};

/** Every tool the plan runs must be on PATH; the loader's version must suit the dump's. */
async function toolProblems(plan: PreflightPlan, facts: PreflightFacts): Promise<Problem[]> {
  // Found on PATH as execvp would find it; only the loader is run (--version), for its version.
  const missing = toolsOf(plan).filter((tool) => resolveCommand(tool, process.env.PATH) === undefined);
  const problems: Problem[] = missing.map((tool) => ({ problem: `${tool} is not found on PATH`, fix: INSTALL[tool] ?? POSTGRES_CLIENT }));
  const db = plan.database;
  const recorded = plan.snapshot.record.database;
  const target = facts.server;
  if (!db || !recorded || !target) return problems;
  const loader = loaderOf(db.dump);
  if (missing.includes(loader)) return problems;
  const version = await (facts.loaderVersion ?? askVersion(loader));
  if ('error' in version) {
    problems.push({ problem: `${loader} --version failed: ${(version.error as Error).message}`, fix: POSTGRES_CLIENT });
    return problems;
  }
  try {
    checkRestoreVersions({ dumpServer: recorded.serverVersion, pgDump: recorded.pgDumpVersion, targetServer: target.version, tool: { name: loader, version: toolVersion(version.stdout) } });
  } catch (e) {
    if (!isBackplanError(e)) throw e;
    problems.push({ problem: e.message, fix: e.details.hint ?? 'use matching PostgreSQL versions' });
  }
  return problems;
}

function toolsOf(plan: PreflightPlan): string[] {
  const tools = new Set<string>();
  const commands = plan.database?.commands;
  for (const c of commands ? [commands.drop, commands.create, ...commands.load] : []) for (const stage of c?.stages ?? []) tools.add(stage[0]!);
  const repo = plan.repository;
  // --include copies the selected paths with rsync (include.ts), the whole folder with tar.
  if (repo?.method === 'folder') tools.add(repo.include ? 'rsync' : 'tar');
  const source = repo?.source;
  const unpack = repo?.method === 'tar' && source ? unpackStages(typeof source === 'string' ? source : source.name, '') : [];
  for (const stage of unpack) tools.add(stage[0]!);
  if (plan.chain.some((s) => s.record.artefacts.some((a) => isSealed(a.path)))) tools.add('age');
  if (repo?.method === 'incremental') {
    tools.add('zstd');
    if (plan.chain.some((s) => incrementalExtra(s.record)?.container?.index?.kind === 'delta')) tools.add('sqlite3');
  }
  return [...tools];
}

/** The target folder (or the nearest folder above it that exists) must be writable and hold what the restore writes. */
async function targetProblems(plan: PreflightPlan, notes: string[]): Promise<Problem[]> {
  const base = await nearestExisting(plan.targetDir);
  const creates = base === plan.targetDir ? '' : ` (the restore creates ${plan.targetDir} in it)`;
  if (!(await stat(base)).isDirectory()) return [{ problem: `${base} is not a folder${creates}`, fix: 'name a folder with --to' }];
  const denied = await access(base, constants.W_OK | constants.X_OK).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code ?? 'EACCES',
  );
  if (denied) {
    const why = denied === 'EROFS' ? 'its filesystem is mounted read-only' : denied;
    return [{ problem: `${base} is not writable (${why})${creates}`, fix: 'restore into a folder you can write (--to), or fix its permissions or mount' }];
  }
  return spaceProblems(plan, base, notes);
}

/**
 * The repository's recorded bytes (an incremental chain: every snapshot's share, summed), plus
 * the decompressed copy of the dump parallel pg_restore needs, against the free space there. A
 * forced restore first removes the target's repository/ and config/: their size counts as free,
 * measured only when the space would not do otherwise.
 */
async function spaceProblems(plan: PreflightPlan, base: string, notes: string[]): Promise<Problem[]> {
  const parts: string[] = [];
  let needed = 0;
  let files = 0;
  if (plan.repository) {
    const recorded = plan.chain.map((s) => s.record.repository);
    if (recorded.some((r) => r?.bytes === undefined)) {
      notes.push(`the snapshot does not record the repository's size: the free space under ${base} was not checked for it`);
    } else {
      needed += recorded.reduce((sum, r) => sum + r!.bytes!, 0);
      files += recorded.reduce((sum, r) => sum + (r!.files ?? 0), 0);
      parts.push(`the repository's recorded ${formatBytes(needed)}`);
    }
  }
  const db = plan.database;
  if (db?.commands.tempFile) {
    const dump = plan.snapshot.record.artefacts.find((a) => a.path === db.dump.path)?.bytes;
    if (dump === undefined) notes.push(`the size of ${db.dump.path} is unknown: the space for its decompressed copy was not checked`);
    else {
      const expansion = db.commands.tempUnpacked ? DUMP_EXPANSION : 1;
      needed += dump * expansion;
      parts.push(`${formatBytes(dump * expansion)} for the ${expansion > 1 ? 'decompressed ' : ''}copy of ${db.dump.path} parallel pg_restore reads (${expansion}× its ${formatBytes(dump)})`);
    }
  }
  if (needed === 0) return [];
  const fs = await statfs(base);
  const free = fs.bavail * fs.bsize;
  // Small files take whole blocks: on average half a block each is lost.
  const likely = needed + (files * fs.bsize) / 2;
  if (likely <= free) return [];
  const freed = await replacedBytes(plan.replaces, base);
  if (needed > free + freed) {
    const after = freed > 0 ? ` (${formatBytes(freed)} more once --force has removed the old repository/ and config/)` : '';
    return [
      {
        problem: `${plan.targetDir} needs ${formatBytes(needed)} (${parts.join(', plus ')}), and the filesystem of ${base} has ${formatBytes(free)} free${after}`,
        fix: `free space there, or restore elsewhere with --to${db?.commands.tempFile ? '; --jobs 1 streams the dump without a decompressed copy' : ''}`,
      },
    ];
  }
  if (likely > free + freed) notes.push(`${files} files of ${formatBytes(needed)} may take about ${formatBytes(likely)} in ${fs.bsize}-byte blocks, more than the ${formatBytes(free + freed)} free under ${base}`);
  return [];
}

async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    if (await stat(p).then(() => true, () => false)) return p;
    if (dirname(p) === p) return p;
  }
}

/** Bytes of the folders a forced restore removes first, when they share the target's filesystem. */
async function replacedBytes(paths: string[], base: string): Promise<number> {
  const device = (await stat(base)).dev;
  let bytes = 0;
  for (const path of paths) {
    if ((await lstat(path)).dev !== device) continue;
    for await (const file of walkFiles(path)) bytes += (await lstat(file)).size;
  }
  return bytes;
}
