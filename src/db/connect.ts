import type pg from 'pg';
import { BackplanError } from '../errors.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** A node-postgres client for the profile's database; errors never carry the password. */
export async function connect(db: DatabaseConnection, secrets: Secrets, opts: { database?: string } = {}): Promise<pg.Client> {
  // Loaded here, not at start-up: `validate` and `plan --offline` never connect.
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({
    host: db.host,
    port: db.port,
    user: db.user,
    database: opts.database ?? db.name,
    password: secrets.pgPassword,
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

export function databaseError(e: unknown, db: DatabaseConnection, database = db.name): BackplanError {
  const err = e as { message?: string; code?: string };
  const where = `${db.user}@${db.host}:${db.port}/${database}`;
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
