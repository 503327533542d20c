/**
 * Where a password comes from when the manifest has none: ~/.pgpass (read the way libpq reads
 * it, without node-postgres' DeprecationWarning on every run), and a clear message when there
 * is none at all. Against a throwaway cluster that requires passwords (scram).
 */
import { expect } from 'chai';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTo, startThrowawayCluster } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { cli } from './support/profile.js';

const PASSWORD = 'pgpass-canary-51e0';

describe('database passwords from ~/.pgpass', function () {
  this.timeout(180_000);
  let server: PgServer;
  let dir: string;
  let manifest: string;
  before(async () => {
    server = await startThrowawayCluster({ password: PASSWORD });
    const c = await connectTo(server, 'postgres');
    await c.query('CREATE DATABASE app');
    await c.end();
  });
  after(() => server?.stop());
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-pgpass-'));
    await mkdir(join(dir, 'repo'));
    await writeFile(join(dir, 'repo', 'file.txt'), 'data\n');
    manifest = join(dir, 'manifest.yaml');
    const db = { host: '127.0.0.1', port: server.port, user: 'postgres', name: 'app' };
    await writeFile(manifest, `version: 1\nname: pgpass\nprofile:\n  explicit:\n    repository: ${join(dir, 'repo')}\n    database: ${JSON.stringify(db)}\ndestination: ${join(dir, 'backups')}\n`);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** backplan with HOME at the test folder and no password in its environment. */
  const run = (args: string[]) => cli(args, { env: { HOME: dir, PGPASSWORD: undefined, PGPASSFILE: undefined } });

  it('a run takes the password from ~/.pgpass, for itself and pg_dump, and prints no DeprecationWarning', async () => {
    await writeFile(join(dir, '.pgpass'), `# comment\n127.0.0.1:${server.port}:*:postgres:${PASSWORD}\n`);
    await chmod(join(dir, '.pgpass'), 0o600);
    const r = await run(['run', manifest]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).not.to.contain('DeprecationWarning');
    expect(r.stdout + r.stderr).not.to.contain(PASSWORD);
  });

  it('no password anywhere: exit 1 saying so and where to put one, no stack', async () => {
    const r = await run(['run', manifest]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('the server asks for a password and none was given');
    expect(r.stderr).to.contain('~/.pgpass');
    expect(r.stderr).not.to.match(/SASL|^\s+at /m);
  });
});
