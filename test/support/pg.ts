/** The PostgreSQL server shared by the whole test run, and per-test databases on it. */
import { acquireServer, connectTo, createDatabase, dropDatabase, serverFromEnv } from '../../src/demo/cluster.js';
import type { PgServer } from '../../src/demo/cluster.js';

/**
 * The PG* variables of the server the run's global setup acquired, for mocha's worker processes
 * (--parallel): they share it instead of each starting a cluster. Kept out of PG* themselves, so
 * the commands the tests run see the environment they would see without the harness.
 */
const SHARED_SERVER_VAR = 'BACKPLAN_TEST_PG';

let shared: Promise<PgServer> | undefined;

/** The run's shared server, else the env's, else one throwaway cluster started on first use. */
export function testServer(): Promise<PgServer> {
  shared ??= sharedServer() ?? acquireServer();
  return shared;
}

function sharedServer(): Promise<PgServer> | undefined {
  const named = process.env[SHARED_SERVER_VAR];
  return named === undefined ? undefined : serverFromEnv(JSON.parse(named) as NodeJS.ProcessEnv).then((s) => s!);
}

/** The global setup (main process): the server every worker will share, named for them. */
export async function shareTestServer(): Promise<void> {
  const server = await testServer();
  process.env[SHARED_SERVER_VAR] = JSON.stringify(server.env);
}

/** The global teardown: stops the throwaway cluster if one was started; an env-named server is left alone. */
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
