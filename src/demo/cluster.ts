/**
 * PostgreSQL servers for `backplan demo`, the tests and the benchmarks: either the one the
 * environment names, or a throwaway cluster in a temp dir that is gone again after stop().
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { BackplanError } from '../errors.js';

export interface PgServer {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Env vars for child processes (PGHOST, PGPORT, PGUSER, PGPASSWORD if any). */
  env: Record<string, string>;
  /** The throwaway cluster's temp dir (data, socket, log); undefined for an external server. */
  dir?: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

/** DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD; undefined when none points at a server. */
export async function serverFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<PgServer | undefined> {
  if (env.DATABASE_URL) return serverFromUrl(env.DATABASE_URL);
  if (!env.PGHOST && !env.PGPORT) return undefined;
  return makeServer({
    host: env.PGHOST || 'localhost',
    port: parsePort(env.PGPORT || '5432', 'PGPORT'),
    // libpq would default to the OS user; the harness needs a superuser, so default to postgres.
    user: env.PGUSER || SUPERUSER,
    password: env.PGPASSWORD || undefined,
  });
}

function serverFromUrl(raw: string): PgServer {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BackplanError('USAGE', 'DATABASE_URL is not a URL (expected postgres://user:pass@host:port/db)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new BackplanError('USAGE', `DATABASE_URL has scheme ${url.protocol}, expected postgres:`);
  }
  return makeServer({
    host: url.hostname || 'localhost',
    port: parsePort(url.port || '5432', 'DATABASE_URL port'),
    user: decodeURIComponent(url.username) || SUPERUSER,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  });
}

function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BackplanError('USAGE', `${what} is not a TCP port: ${text}`);
  }
  return port;
}

interface Endpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
}

function makeServer(e: Endpoint, stop: () => Promise<void> = async () => {}, dir?: string): PgServer {
  const env: Record<string, string> = { PGHOST: e.host, PGPORT: String(e.port), PGUSER: e.user };
  if (e.password !== undefined) env.PGPASSWORD = e.password;
  const server: PgServer = { host: e.host, port: e.port, user: e.user, env, stop };
  if (e.password !== undefined) server.password = e.password;
  if (dir !== undefined) server.dir = dir;
  return server;
}

export async function acquireServer(): Promise<PgServer> {
  return (await serverFromEnv()) ?? (await startThrowawayCluster());
}

/** A pg client connected to `database` on `server`; the caller ends it. */
export async function connectTo(server: PgServer, database: string): Promise<pg.Client> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  try {
    await client.connect();
  } catch (e) {
    throw new BackplanError('DATABASE', `cannot connect to ${database} on ${server.host}:${server.port}: ${(e as Error).message}`, { cause: e });
  }
  return client;
}

let databaseCounter = 0;

/** Creates a database named `<prefix>_<pid>_<n>_<random>` and returns that name. */
export async function createDatabase(server: PgServer, prefix: string): Promise<string> {
  const stem = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 32) || 'db';
  const name = `${stem}_${process.pid}_${++databaseCounter}_${randomBytes(3).toString('hex')}`;
  await maintenanceQuery(server, `CREATE DATABASE ${quoteIdent(name)}`);
  return name;
}

/** FORCE ends the sessions a failed test may have left open on the database. */
export async function dropDatabase(server: PgServer, name: string): Promise<void> {
  await maintenanceQuery(server, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

async function maintenanceQuery(server: PgServer, sql: string): Promise<void> {
  const client = await connectTo(server, 'postgres');
  try {
    await client.query(sql);
  } catch (e) {
    throw new BackplanError('DATABASE', `${sql} failed on ${server.host}:${server.port}: ${(e as Error).message}`, { cause: e });
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

// ---------------------------------------------------------------------------------------------
// Throwaway cluster

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs an argv (no shell); a failure names the command and carries its stderr. */
function run(argv: string[], cwd?: string): Promise<RunResult> {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: childEnv(), maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr });
      const tail = tailLines(stderr || stdout || error.message, 20);
      const status = typeof error.code === 'number' ? `exited with code ${error.code}` : `failed (${error.code ?? error.message})`;
      reject(new BackplanError('COMMAND_FAILED', `${argv.join(' ')} ${status}: ${tail}`, { command: argv.join(' '), stderrTail: tail, cause: error }));
    });
  });
}

/** PG* variables of the caller (a port, a data dir) must not leak into our own cluster. */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
}

function tailLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** PostgreSQL refuses to run as root, so as root its tools run as the `postgres` OS user. */
function asClusterOwner(argv: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', SUPERUSER, '--', ...argv] : argv;
}

/** pg_ctl and initdb from PATH, else the newest /usr/lib/postgresql/<major>/bin. */
async function findPgBin(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'initdb'))) {
      // The real dir, so that pg_ctl, initdb and postgres come from one installation.
      return join(await realpath(join(dir, 'pg_ctl')), '..');
    }
  }
  const majors = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const newest = majors.filter((m) => /^\d+$/.test(m)).sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return `/usr/lib/postgresql/${newest}/bin`;
  throw new BackplanError('COMMAND_FAILED', 'no PostgreSQL server binaries (pg_ctl, initdb) in PATH or /usr/lib/postgresql', {
    hint: 'install the PostgreSQL server package, or set DATABASE_URL / PGHOST to use an existing server',
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** postgresql.conf lines: no -o option string, which pg_ctl would hand to a shell. */
function serverSettings(port: number, socketDir: string): string {
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  return [
    '',
    '# backplan throwaway cluster: speed over durability',
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = ${quote(socketDir)}`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    `max_wal_size = '1GB'`,
    '',
  ].join('\n');
}

/**
 * initdb + pg_ctl start in a fresh temp dir on a free 127.0.0.1 port, superuser postgres; trust
 * auth, or scram-sha-256 with `password` (for tests of wrong passwords).
 */
export async function startThrowawayCluster(opts: { log?: (line: string) => void; password?: string } = {}): Promise<PgServer> {
  const log = opts.log ?? (() => {});
  const bin = await findPgBin();
  const dir = await mkdtemp(join(tmpdir(), 'backplan-pg-'));
  try {
    await handOverToClusterOwner(dir);
    const data = join(dir, 'data');
    log(`initdb ${data}`);
    await run(asClusterOwner([join(bin, 'initdb'), '-D', data, '-U', SUPERUSER, ...(await authArgs(dir, opts.password)), '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']), dir);
    const port = await startOnFreePort(bin, dir, log);
    const pgCtlStop = asClusterOwner([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
    const onExit = () => stopSync(pgCtlStop, dir);
    process.once('exit', onExit);
    const stop = once(async () => {
      process.removeListener('exit', onExit);
      log(`stopping cluster on port ${port}`);
      try {
        await run(pgCtlStop, dir);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
    log(`cluster ready on 127.0.0.1:${port}`);
    return makeServer({ host: '127.0.0.1', port, user: SUPERUSER, password: opts.password }, stop, dir);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The password goes to initdb in a file (never argv), readable by the cluster owner only. */
async function authArgs(dir: string, password: string | undefined): Promise<string[]> {
  if (password === undefined) return ['-A', 'trust'];
  const file = join(dir, 'pwfile');
  await writeFile(file, password + '\n', { mode: 0o600 });
  await handOverToClusterOwner(file);
  return ['-A', 'scram-sha-256', `--pwfile=${file}`];
}

async function handOverToClusterOwner(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { stdout } = await run(['id', '-u', SUPERUSER]);
  const { stdout: gid } = await run(['id', '-g', SUPERUSER]);
  await chown(dir, Number(stdout.trim()), Number(gid.trim()));
}

/** Another process may grab the probed port before postgres binds it: retry on a new one. */
async function startOnFreePort(bin: string, dir: string, log: (line: string) => void): Promise<number> {
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    await appendFile(join(data, 'postgresql.conf'), serverSettings(port, dir));
    log(`pg_ctl start on port ${port}`);
    try {
      await run(asClusterOwner([join(bin, 'pg_ctl'), '-D', data, '-l', logFile, '-w', '-t', '60', 'start']), dir);
      return port;
    } catch (e) {
      const serverLog = await readFile(logFile, 'utf8').catch(() => '');
      if (attempt < 3 && /could not bind|address already in use/i.test(serverLog)) continue;
      const err = e as BackplanError;
      throw new BackplanError('COMMAND_FAILED', `${err.message}\nserver log:\n${tailLines(serverLog, 20)}`, { ...err.details, cause: e });
    }
  }
}

/** Last resort when the process exits without stop(): no async work is possible there. */
function stopSync(pgCtlStop: string[], dir: string): void {
  const [cmd, ...args] = pgCtlStop as [string, ...string[]];
  spawnSync(cmd, args, { cwd: dir, stdio: 'ignore', env: childEnv() });
  rmSync(dir, { recursive: true, force: true });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
