/** The PostgreSQL server shared by the whole test run, and per-test databases on it. */
import { acquireServer, connectTo, createDatabase, dropDatabase } from '../../src/demo/cluster.js';
import type { PgServer } from '../../src/demo/cluster.js';

let shared: Promise<PgServer> | undefined;

/** The env's server, else one throwaway cluster started on first use and reused by every test. */
export function testServer(): Promise<PgServer> {
  shared ??= acquireServer();
  return shared;
}

/** Called by the root afterAll hook; a no-op for a server the env named. */
export async function stopTestServer(): Promise<void> {
  if (!shared) return;
  const server = await shared.catch(() => undefined);
  shared = undefined;
  await server?.stop();
}

export interface TestDatabase {
  server: PgServer;
  name: string;
}

/** Runs `fn` with a fresh database that is dropped afterwards, pass or fail. */
export async function withDatabase<T>(prefix: string, fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const server = await testServer();
  const name = await createDatabase(server, prefix);
  try {
    return await fn({ server, name });
  } finally {
    await dropDatabase(server, name);
  }
}

/**
 * Inside a `describe`: a fresh database for the block, created in `before` and dropped in
 * `after`. Read its fields only inside hooks and tests, once `before` has run.
 */
export function useDatabase(prefix: string): TestDatabase {
  const db = {} as TestDatabase;
  before(async () => {
    db.server = await testServer();
    db.name = await createDatabase(db.server, prefix);
  });
  after(async () => {
    if (db.name) await dropDatabase(db.server, db.name);
  });
  return db;
}

export async function databaseExists(server: PgServer, name: string): Promise<boolean> {
  const client = await connectTo(server, 'postgres');
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}
