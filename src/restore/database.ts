/**
 * The database half of a restore: which dump a snapshot holds, the commands that load it
 * (planned as data, so --dry-run prints what a restore runs), and what the target server says.
 */
import { join } from 'node:path';
import { discard } from '../util/discard.js';
import type pg from 'pg';
import { connect, databaseError } from '../db/connect.js';
import { countRowsIn } from '../db/row-counts.js';
import { pipeline } from '../execute/subprocess.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import { conninfo, libpqEnv } from '../steps/plan-input.js';
import { pipelineFrom, sourceStages } from './source.js';
import type { ArtefactSource, StreamedArtefact } from './source.js';

export interface DumpArtefact {
  format: 'custom' | 'directory' | 'plain';
  /** Relative to the snapshot folder. */
  path: string;
}

/** The dump among a snapshot's artefacts (a directory dump is recorded as its SHA256SUMS list). */
export function dumpArtefact(record: SnapshotRecord): DumpArtefact | undefined {
  for (const a of record.artefacts) {
    if (a.covers?.folder === 'database.dir') return { format: 'directory', path: 'database.dir' };
    if (/^database\.dump(\.zst)?(\.age)?$/.test(a.path)) return { format: 'custom', path: a.path };
    if (/^database\.sql(\.zst|\.gz)?(\.age)?$/.test(a.path)) return { format: 'plain', path: a.path };
  }
  return undefined;
}

/** One command or pipeline of the database restore; `output` is a file the last stage writes. */
export interface DbCommand {
  stages: string[][];
  output?: string;
  /** The dump streamed from a remote destination into the first stage's stdin (source.ts). */
  input?: StreamedArtefact;
}

export interface DbRestoreCommands {
  /** Under --force, for a database that exists. */
  drop?: DbCommand;
  create: DbCommand;
  /** In order: maybe a decompression to a temp file, then pg_restore or psql. */
  load: DbCommand[];
  /** Removed after the load, pass or fail. */
  tempFile?: string;
  /** The temp file holds the dump unpacked (decrypted, decompressed), not a copy of it as stored. */
  tempUnpacked?: boolean;
}

export interface DbRestoreOptions {
  dump: DumpArtefact;
  /** The dump: its local path, or streamed from the destination (a directory dump is always local). */
  file: ArtefactSource;
  name: string;
  owner: string;
  jobs: number;
  noOwner: boolean;
  /** pg_restore --no-privileges: no GRANT or REVOKE, no default privileges. */
  noPrivileges: boolean;
  dropFirst: boolean;
  /** Where a temporary copy may go (the restore target). */
  tempDir: string;
  /** The commands run as another role than the owner (an administrative one, or --owner). */
  notAsOwner: boolean;
  /** The age identity file, for an encrypted dump (`.age`): decrypted as the first stage. */
  identity?: string;
}

/**
 * The database name goes to createdb/dropdb after `--` and to pg_restore/psql inside a quoted
 * conninfo: a name is never read as an option or a connection string.
 *
 * Run as another role than the owner (an administrative role), the load keeps the dump's owners:
 * its ALTER … OWNER TO statements hand each object to its dumped owner, normally the profile's
 * role. With --no-owner, pg_restore --role sets the role to the owner first, so that what it
 * creates belongs to the owner rather than to the role that connected.
 */
export function dbRestoreCommands(o: DbRestoreOptions): DbRestoreCommands {
  const file = o.file;
  const input = typeof file === 'string' ? {} : { input: file };
  const commands: DbRestoreCommands = {
    create: { stages: [['createdb', '--no-password', `--owner=${o.owner}`, '--template=template0', '--', o.name]] },
    load: [],
  };
  if (o.dropFirst) commands.drop = { stages: [['dropdb', '--no-password', '--', o.name]] };
  const dbname = `--dbname=${conninfo(o.name)}`;
  if (o.dump.format === 'plain') {
    const psql = ['psql', '--no-password', '--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--single-transaction', dbname];
    const unpack = sourceStages(file, o.identity);
    const read = typeof file === 'string' ? `--file=${file}` : '--file=-';
    commands.load.push(unpack.length > 0 ? { stages: [...unpack, [...psql, '--file=-']], ...input } : { stages: [[...psql, read]], ...input });
    return commands;
  }
  const owner = o.noOwner ? ['--no-owner', ...(o.notAsOwner ? [`--role=${o.owner}`] : [])] : [];
  const privileges = o.noPrivileges ? ['--no-privileges'] : [];
  const pgRestore = ['pg_restore', '--no-password', '--exit-on-error', dbname, ...owner, ...privileges];
  const unpack = sourceStages(file, o.identity);
  if (unpack.length === 0 && typeof file === 'string') {
    commands.load.push({ stages: [[...pgRestore, `--jobs=${o.jobs}`, '--', file]] });
  } else if (o.jobs === 1) {
    commands.load.push({ stages: [...unpack, pgRestore], ...input });
  } else {
    // Parallel pg_restore seeks in its input: a stream will not do.
    const temp = join(o.tempDir, '.backplan-restore-database.dump');
    commands.tempFile = temp;
    commands.tempUnpacked = unpack.length > 0;
    commands.load.push({ stages: unpack.length > 0 ? unpack : [['cat']], output: temp, ...input }, { stages: [[...pgRestore, `--jobs=${o.jobs}`, '--', temp]] });
  }
  return commands;
}

/** Runs one planned command with the connection and password in the environment only. */
export async function runDbCommand(command: DbCommand, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<void> {
  // pg_restore -d and psql print nothing worth keeping on stdout (psql echoes set_config rows).
  const output = command.output ?? discard();
  if (command.input) await pipelineFrom(command.input, command.stages, { env, signal, output });
  else await pipeline(command.stages, { env, signal, output });
}

/** libpq environment for the restore tools: the target connection, the password only if known. */
export function restoreEnv(connection: DatabaseConnection, name: string, secrets: Secrets): NodeJS.ProcessEnv {
  return { ...libpqEnv({ ...connection, name }), ...(secrets.pgPassword !== undefined ? { PGPASSWORD: secrets.pgPassword } : {}) };
}

/** A client session on a database: what a forced restore would have to end first. */
export interface Session {
  pid: number;
  user: string | null;
  application: string | null;
  client: string | null;
}

/** What the target server says, asked as the role that will create (and drop) the database. */
export interface TargetServer {
  version: string;
  exists: boolean;
  creator: { name: string; superuser: boolean; createdb: boolean; memberOfOwner: boolean };
  ownerExists: boolean;
  /** Which of the roles asked about exist. */
  roles: string[];
  /** The database as it is, when it exists: its owner, whether the creator may drop it, who is connected. */
  existing?: { owner: string; canDrop: boolean; sessions: Session[] };
  /** A login superuser, for the fix a refusal names. */
  superuser?: string;
}

/**
 * Asked of a maintenance database: the server's version, the creating role's rights (superuser or
 * CREATEDB; a member of the owner role, which createdb --owner needs), and the database itself.
 * `pg_has_role(…, 'MEMBER')` is true for a superuser, as DROP DATABASE's ownership check is.
 */
export async function inspectTarget(connection: DatabaseConnection, secrets: Secrets, name: string, owner: string, roles: string[] = []): Promise<TargetServer> {
  const client = await connectMaintenance(connection, secrets);
  try {
    const version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    const role = (
      await client.query<{ name: string; superuser: boolean; createdb: boolean; owner_exists: boolean; member_of_owner: boolean | null }>(
        `SELECT current_user AS name, r.rolsuper AS superuser, r.rolcreatedb AS createdb, o.oid IS NOT NULL AS owner_exists,
                pg_has_role(current_user, o.oid, 'MEMBER') AS member_of_owner
         FROM pg_roles r LEFT JOIN pg_roles o ON o.rolname = $1 WHERE r.rolname = current_user`,
        [owner],
      )
    ).rows[0]!;
    const [db] = (
      await client.query<{ owner: string; can_drop: boolean }>(
        "SELECT pg_get_userbyid(datdba) AS owner, pg_has_role(current_user, datdba, 'MEMBER') AS can_drop FROM pg_database WHERE datname = $1",
        [name],
      )
    ).rows;
    const superuser = (await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin ORDER BY rolname <> 'postgres', rolname LIMIT 1")).rows[0]?.rolname;
    const existing = (await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY 1', [roles])).rows.map((r) => r.rolname);
    const server: TargetServer = {
      version,
      exists: db !== undefined,
      creator: { name: role.name, superuser: role.superuser, createdb: role.createdb, memberOfOwner: role.member_of_owner ?? false },
      ownerExists: role.owner_exists,
      roles: existing,
      ...(superuser !== undefined ? { superuser } : {}),
    };
    if (db) server.existing = { owner: db.owner, canDrop: db.can_drop, sessions: await sessionsOn(client, name) };
    return server;
  } catch (e) {
    throw databaseError(e, connection, client.database);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Client sessions only: DROP DATABASE ends autovacuum workers by itself. */
async function sessionsOn(client: pg.Client, name: string): Promise<Session[]> {
  const { rows } = await client.query<Session>(
    `SELECT pid, usename AS user, nullif(application_name, '') AS application, host(client_addr) AS client
     FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid`,
    [name],
  );
  return rows;
}

/** `postgres`, else `template1`: the restored database does not exist yet. */
export async function connectMaintenance(connection: DatabaseConnection, secrets: Secrets): Promise<pg.Client> {
  try {
    return await connect(connection, secrets, { database: 'postgres' });
  } catch (e) {
    return connect(connection, secrets, { database: 'template1' }).catch(() => {
      throw e;
    });
  }
}

/** Every table's rows and the large objects of a restored database (db/row-counts.ts). */
export async function countRows(connection: DatabaseConnection, secrets: Secrets, name: string): Promise<Record<string, number>> {
  const client = await connect(connection, secrets, { database: name });
  try {
    return await countRowsIn(client);
  } catch (e) {
    throw databaseError(e, connection, name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
