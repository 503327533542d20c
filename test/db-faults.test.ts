import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTo, startThrowawayCluster } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { cli, cliPath } from './support/profile.js';
import { waitUntil } from './support/wait.js';

const CANARY = 'canary-Pw-7f3a9c';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function explicitManifest(dir: string, db: { host: string; port: number; user: string; name: string }): Promise<string> {
  const repo = join(dir, 'repo');
  await mkdir(repo, { recursive: true });
  await writeFile(join(repo, 'file.txt'), 'data\n');
  const file = join(dir, 'manifest.yaml');
  await writeFile(
    file,
    `version: 1\nname: faults\nprofile:\n  explicit:\n    repository: ${repo}\n    database: ${JSON.stringify(db)}\ndestination: ${join(dir, 'backups')}\ndatabase: { format: plain, compression: gzip }\n`,
  );
  return file;
}

function expectNoSecretOrStack(text: string): void {
  expect(text).to.not.contain(CANARY);
  expect(text).to.not.contain('wrong-' + CANARY);
  expect(text).to.not.match(/^\s+at /m);
}

async function completeSnapshots(destination: string): Promise<string[]> {
  const names = await readdir(destination).catch(() => [] as string[]);
  return names.filter((n) => /^\d{4}-.*-(full|incr)$/.test(n));
}

describe('database faults', function () {
  this.timeout(180_000);
  let server: PgServer;
  let dir: string;
  before(async () => {
    server = await startThrowawayCluster({ password: CANARY });
    const c = await connectTo(server, 'postgres');
    await c.query('CREATE DATABASE app');
    await c.end();
  });
  after(() => server?.stop());
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-dbfaults-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a server that is down: exit 1 at once, naming where it looked and what to check', async () => {
    const manifest = await explicitManifest(dir, { host: '127.0.0.1', port: await freePort(), user: 'postgres', name: 'app' });
    const started = Date.now();
    const r = await cli(['run', manifest], { env: { PGPASSWORD: CANARY } });
    expect(r.code).to.equal(1);
    expect(Date.now() - started).to.be.below(20_000);
    expect(r.stderr).to.match(/database postgres@127\.0\.0\.1:\d+\/app: .*ECONNREFUSED/);
    expect(r.stderr).to.contain('is the PostgreSQL server running');
    expectNoSecretOrStack(r.stdout + r.stderr);
    expect(await completeSnapshots(join(dir, 'backups'))).to.deep.equal([]);
  });

  it('a wrong password: exit 1, says authentication failed, and shows neither password', async () => {
    const manifest = await explicitManifest(dir, { host: server.host, port: server.port, user: 'postgres', name: 'app' });
    const r = await cli(['run', '--json', manifest], { env: { PGPASSWORD: 'wrong-' + CANARY } });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/password authentication failed for user "postgres"/);
    expect(r.stderr).to.contain('check the password');
    expectNoSecretOrStack(r.stdout + r.stderr);
  });

  it('a missing database: exit 1 naming it, with what to do', async () => {
    const manifest = await explicitManifest(dir, { host: server.host, port: server.port, user: 'postgres', name: 'no_such_db' });
    const r = await cli(['run', manifest], { env: { PGPASSWORD: CANARY } });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/database "no_such_db" does not exist/);
    expect(r.stderr).to.contain('create the database or fix its name');
    expectNoSecretOrStack(r.stdout + r.stderr);
  });

  it('the server stopped mid-dump: exit 1 within a bounded time, pg_dump named, no complete snapshot', async () => {
    const own = await startThrowawayCluster({ password: CANARY });
    try {
      const c = await connectTo(own, 'postgres');
      await c.query('CREATE DATABASE big');
      await c.end();
      const big = await connectTo(own, 'big');
      // Enough rows that pg_dump | gzip runs for seconds.
      await big.query("CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 1000000) g");
      await big.end();
      const manifest = await explicitManifest(dir, { host: own.host, port: own.port, user: 'postgres', name: 'big' });
      const child = spawn(process.execPath, [cliPath, 'run', manifest], { env: { ...process.env, PGPASSWORD: CANARY } });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      let stderr = '';
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const dumping = new Promise<void>((resolve) =>
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('start db-dump')) resolve();
        }),
      );
      await dumping;
      // Mid-dump: the server itself shows pg_dump copying the table out.
      const watcher = await connectTo(own, 'postgres');
      try {
        await waitUntil('pg_dump copying the table (pg_stat_activity)', async () => {
          const { rows } = await watcher.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = 'big' AND application_name = 'pg_dump' AND state = 'active' AND query LIKE 'COPY %'",
          );
          return rows.length > 0;
        }, 30_000);
      } finally {
        await watcher.end();
      }
      expect(stderr, 'the dump was still running').not.to.include('done db-dump');
      const stoppedAt = Date.now();
      await own.stop();
      const code = await exited;
      expect(code).to.equal(1);
      expect(Date.now() - stoppedAt).to.be.below(30_000);
      expect(stderr).to.match(/step db-dump: pg_dump/);
      expectNoSecretOrStack(stdout + stderr);
      expect(await completeSnapshots(join(dir, 'backups'))).to.deep.equal([]);
    } finally {
      await own.stop();
    }
  });
});
