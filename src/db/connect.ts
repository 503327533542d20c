import type pg from 'pg';
import { BackplanError } from '../errors.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** A node-postgres client for the profile's database; errors never carry the password. */
export async function connect(db: DatabaseConnection, secrets: Secrets, opts: { database?: string } = {}): Promise<pg.Client> {
  // Loaded here, not at start-up: `validate` and `plan --offline` never connect.
  const { default: pgModule } = await import('pg');
  const database = opts.database ?? db.name;
  const client = new pgModule.Client({
    host: db.host,
    port: db.port,
    user: db.user,
    database,
    // Asked only when the server wants one. ~/.pgpass is read here rather than by pg, whose own
    // reading prints a DeprecationWarning on every run (cron mail).
    password: secrets.pgPassword ?? (() => passwordFromPgpass({ host: db.host, port: db.port, user: db.user, database })),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'backplan',
  });
  // A server that dies mid-run makes the client emit 'error'; unheard, that would crash the
  // process with a stack. Queries in flight reject on their own, which is what steps report.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw databaseError(e, db, opts.database);
  }
  return client;
}

/** The ~/.pgpass (or PGPASSFILE) entry for the connection, as libpq would pick it; '' when none. */
async function passwordFromPgpass(connection: { host: string; port: number; user: string; database: string }): Promise<string> {
  const { default: pgPass } = await import('pgpass');
  // pg wants a string; an empty one fails authentication as a missing password does.
  return new Promise((resolve) => pgPass(connection, (password) => resolve(password ?? '')));
}

export function databaseError(e: unknown, db: DatabaseConnection, database = db.name): BackplanError {
  const err = e as { message?: string; code?: string };
  const where = `${db.user}@${db.host}:${db.port}/${database}`;
  if (/client password must be a (non-empty )?string/.test(err.message ?? '')) {
    return new BackplanError('DATABASE', `database ${where}: the server asks for a password and none was given`, {
      hint: 'set PGPASSWORD, or add a line host:port:database:user:password to ~/.pgpass (mode 0600), or put it in the AiiDA config',
    });
  }
  const hint =
    err.code === '28P01' || err.code === '28000'
      ? 'check the password (PGPASSWORD, ~/.pgpass or the AiiDA config) and pg_hba.conf'
      : err.code === '3D000'
        ? `create the database or fix its name in the manifest`
        : err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND'
          ? 'is the PostgreSQL server running and reachable at that host and port?'
          : undefined;
  return new BackplanError('DATABASE', `database ${where}: ${err.message ?? String(e)}`, { hint });
}
