/**
 * The database half of a restore: which dump a snapshot holds, the commands that load it
 * (planned as data, so --dry-run prints what a restore runs), and what the target server says.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type pg from 'pg';
import { connect, databaseError } from '../db/connect.js';
import { countRowsIn } from '../db/row-counts.js';
import { BackplanError } from '../errors.js';
import { pipeline, run } from '../execute/subprocess.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import { libpqEnv } from '../steps/plan-input.js';
import { decompressor } from './archive.js';
import { toolVersion } from './versions.js';

export interface DumpArtefact {
  format: 'custom' | 'directory' | 'plain';
  /** Relative to the snapshot folder. */
  path: string;
}

/** The dump among a snapshot's artefacts (a directory dump is recorded as its SHA256SUMS list). */
export function dumpArtefact(record: SnapshotRecord): DumpArtefact | undefined {
  for (const a of record.artefacts) {
    if (a.covers?.folder === 'database.dir') return { format: 'directory', path: 'database.dir' };
    if (/^database\.dump(\.zst)?$/.test(a.path)) return { format: 'custom', path: a.path };
    if (/^database\.sql(\.zst|\.gz)?$/.test(a.path)) return { format: 'plain', path: a.path };
  }
  return undefined;
}

/** One command or pipeline of the database restore; `output` is a file the last stage writes. */
export interface DbCommand {
  stages: string[][];
  output?: string;
}

export interface DbRestoreCommands {
  /** Under --force, for a database that exists. */
  drop?: DbCommand;
  create: DbCommand;
  /** In order: maybe a decompression to a temp file, then pg_restore or psql. */
  load: DbCommand[];
  /** Removed after the load, pass or fail. */
  tempFile?: string;
}

export interface DbRestoreOptions {
  dump: DumpArtefact;
  snapshotDir: string;
  name: string;
  owner: string;
  jobs: number;
  noOwner: boolean;
  dropFirst: boolean;
  /** Where a temporary copy may go (the restore target). */
  tempDir: string;
}

/**
 * The database name goes to createdb/dropdb after `--` and to pg_restore/psql inside a quoted
 * conninfo: a name is never read as an option or a connection string.
 */
export function dbRestoreCommands(o: DbRestoreOptions): DbRestoreCommands {
  const file = join(o.snapshotDir, o.dump.path);
  const commands: DbRestoreCommands = {
    create: { stages: [['createdb', '--no-password', `--owner=${o.owner}`, '--template=template0', '--', o.name]] },
    load: [],
  };
  if (o.dropFirst) commands.drop = { stages: [['dropdb', '--no-password', '--', o.name]] };
  const dbname = `--dbname=${conninfo(o.name)}`;
  if (o.dump.format === 'plain') {
    const psql = ['psql', '--no-password', '--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--single-transaction', dbname];
    const unpack = decompressor(file);
    commands.load.push(unpack ? { stages: [unpack, [...psql, '--file=-']] } : { stages: [[...psql, `--file=${file}`]] });
    return commands;
  }
  const pgRestore = ['pg_restore', '--no-password', '--exit-on-error', dbname, ...(o.noOwner ? ['--no-owner'] : [])];
  const unpack = decompressor(file);
  if (!unpack) {
    commands.load.push({ stages: [[...pgRestore, `--jobs=${o.jobs}`, '--', file]] });
  } else if (o.jobs === 1) {
    commands.load.push({ stages: [unpack, pgRestore] });
  } else {
    // Parallel pg_restore seeks in its input: a stream will not do.
    const temp = join(o.tempDir, '.backplan-restore-database.dump');
    commands.tempFile = temp;
    commands.load.push({ stages: [unpack], output: temp }, { stages: [[...pgRestore, `--jobs=${o.jobs}`, '--', temp]] });
  }
  return commands;
}

function conninfo(name: string): string {
  return `dbname='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Runs one planned command with the connection and password in the environment only. */
export async function runDbCommand(command: DbCommand, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<void> {
  const output = command.output ?? discard();
  await pipeline(command.stages, { env, signal, output });
}

/** pg_restore -d and psql print nothing worth keeping on stdout (psql echoes set_config rows). */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

/** libpq environment for the restore tools: the target connection, the password only if known. */
export function restoreEnv(connection: DatabaseConnection, name: string, secrets: Secrets): NodeJS.ProcessEnv {
  return { ...libpqEnv({ ...connection, name }), ...(secrets.pgPassword !== undefined ? { PGPASSWORD: secrets.pgPassword } : {}) };
}

export interface TargetServer {
  version: string;
  exists: boolean;
}

/** The target server's version and whether the database exists, asked of a maintenance database. */
export async function inspectTarget(connection: DatabaseConnection, secrets: Secrets, name: string): Promise<TargetServer> {
  const client = await connectMaintenance(connection, secrets);
  try {
    const version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return { version, exists: (rowCount ?? 0) > 0 };
  } catch (e) {
    throw databaseError(e, connection, client.database);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `postgres`, else `template1`: the restored database does not exist yet. */
async function connectMaintenance(connection: DatabaseConnection, secrets: Secrets): Promise<pg.Client> {
  try {
    return await connect(connection, secrets, { database: 'postgres' });
  } catch (e) {
    return connect(connection, secrets, { database: 'template1' }).catch(() => {
      throw e;
    });
  }
}

/** The local loader's version, from `--version`. */
export async function localToolVersion(tool: 'pg_restore' | 'psql'): Promise<string> {
  const { stdout = '' } = await run([tool, '--version']).catch((e: unknown) => {
    throw new BackplanError('TOOL_VERSION', `${tool} is not installed or cannot run`, {
      hint: 'install the PostgreSQL client tools (e.g. apt-get install postgresql-client) and put them on PATH',
      cause: e,
    });
  });
  return toolVersion(stdout);
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
