/**
 * Restore checks everything that can fail before it removes or writes anything (#11), and
 * creates databases as an administrative role apart from the profile's (#13).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { connectTo, createDatabase, dropDatabase } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { adminRole } from '../src/restore/admin.js';
import { databaseText, fileHashes } from './support/compare.js';
import { databaseExists, testServer, withDatabase } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';
import type { CliResult, TestProfile } from './support/profile.js';

const exec = promisify(execFile);

function restoredName(): string {
  return `restored_${randomBytes(4).toString('hex')}`;
}

async function backUp(db: TestDatabase, extra = 'repository: { strategy: tar }', nodes = 40): Promise<TestProfile> {
  const p = await makeProfile(db, { nodes, extra });
  const result = await cli(['run', p.manifest]);
  expect(result.code, result.stderr).to.equal(0);
  return p;
}

async function query<R extends pg.QueryResultRow>(server: PgServer, database: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = await connectTo(server, database);
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A refusal: exit 1, no stack, and the promise that nothing was changed. */
function expectRefused(result: CliResult): void {
  expect(result.code, result.stderr).to.equal(1);
  expect(result.stderr).to.contain('refusing to restore').and.contain('nothing was changed');
  expect(result.stderr).not.to.match(/^\s+at /m);
  expect(result.stderr).not.to.contain('internal error');
}

/** Runs `fn` with a tmpfs mounted on a fresh folder (root only), unmounted afterwards. */
async function withTmpfs<T>(options: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'backplan-tmpfs-'));
  await exec('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  try {
    return await fn(dir);
  } finally {
    await exec('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

function needsRoot(ctx: Mocha.Context): void {
  if (process.getuid?.() !== 0) ctx.skip();
}

describe('restore preflight', function () {
  this.timeout(180_000);
  let p: TestProfile | undefined;
  afterEach(async () => {
    await p?.cleanup();
    p = undefined;
  });

  it('refuses --force onto a database in use, naming the session; the target and the database stay as they were', () =>
    withDatabase('preflight', async (db) => {
      p = await backUp(db);
      const target = join(p.dir, 'restored');
      const name = restoredName();
      const session = new pg.Client({ host: db.server.host, port: db.server.port, user: db.server.user, password: db.server.password, database: name, application_name: 'aiida-daemon-worker' });
      try {
        const first = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name]);
        expect(first.code, first.stderr).to.equal(0);
        // What the user did since: new files, which a forced restore would replace.
        await writeFile(join(target, 'repository', 'added-since.txt'), 'mine');
        await session.connect();
        await session.query('CREATE TABLE added_since (x int)');
        const files = await fileHashes(target);
        const data = await databaseText(db.server, name);

        for (const dryRun of [['--dry-run'], []]) {
          const forced = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name, '--force', ...dryRun]);
          expectRefused(forced);
          expect(forced.stderr).to.contain(`the database ${name}`).and.contain('aiida-daemon-worker').and.contain('verdi daemon stop').and.contain('--database');
          expect(await fileHashes(target)).to.deep.equal(files);
          expect(await databaseText(db.server, name)).to.equal(data);
        }
      } finally {
        await session.end().catch(() => undefined);
        await dropDatabase(db.server, name);
      }
    }));

  it('refuses a missing tool before writing anything, and lists every problem at once', function () {
    needsRoot(this);
    return withDatabase('preflight', async (db) => {
      p = await backUp(db);
      // Every program on PATH but createdb.
      const bin = join(p.dir, 'bin');
      await mkdir(bin);
      for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
        for (const entry of await readdir(dir).catch(() => [] as string[])) {
          if (entry !== 'createdb') await symlink(join(dir, entry), join(bin, entry)).catch(() => undefined);
        }
      }
      const name = restoredName();
      const target = join(p.dir, 'restored');
      const missing = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name], { env: { PATH: bin } });
      expectRefused(missing);
      expect(missing.stderr).to.contain('createdb').and.contain('not found');
      expect(await readdir(p.dir)).not.to.include('restored');
      expect(await databaseExists(db.server, name)).to.equal(false);

      await withTmpfs('ro,size=1m', async (ro) => {
        const both = await cli(['restore', p!.manifest, 'latest', '--to', join(ro, 'restored'), '--database', name], { env: { PATH: bin } });
        expectRefused(both);
        expect(both.stderr).to.contain('2 problems').and.contain('createdb').and.contain(`${ro} is not writable`);
      });
      expect(await databaseExists(db.server, name)).to.equal(false);
    });
  });

  it('refuses a target without the room the repository needs, saying how much is needed and free', function () {
    needsRoot(this);
    return withDatabase('preflight', async (db) => {
      p = await backUp(db, 'repository: { strategy: tar }', 200);
      const name = restoredName();
      await withTmpfs('size=32k', async (small) => {
        const target = join(small, 'restored');
        const result = await cli(['restore', p!.manifest, 'latest', '--to', target, '--database', name]);
        expectRefused(result);
        expect(result.stderr).to.match(/needs \d+\.\d KiB \(the repository.s recorded/).and.match(/has 32\.0 KiB free/).and.contain(small);
        expect(await readdir(small)).to.deep.equal([]);
      });
      expect(await databaseExists(db.server, name)).to.equal(false);
    });
  });

  it('refuses a read-only target before creating the database', function () {
    needsRoot(this);
    return withDatabase('preflight', async (db) => {
      p = await backUp(db);
      const name = restoredName();
      await withTmpfs('ro,size=1m', async (ro) => {
        const result = await cli(['restore', p!.manifest, 'latest', '--to', join(ro, 'a', 'restored'), '--database', name]);
        expectRefused(result);
        expect(result.stderr).to.contain(`${ro} is not writable`);
      });
      expect(await databaseExists(db.server, name)).to.equal(false);
    });
  });
});

describe('restore with a profile role that cannot create databases', function () {
  this.timeout(180_000);
  let server: PgServer;
  let role: string;
  let original: string;
  let p: TestProfile | undefined;
  const created: string[] = [];

  // What `verdi quicksetup` makes: a LOGIN role without CREATEDB, owning the profile's database.
  before(async () => {
    server = await testServer();
    role = `aiida_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(8).toString('hex');
    await query(server, 'postgres', `CREATE ROLE "${role}" LOGIN NOCREATEDB NOSUPERUSER PASSWORD '${password}'`);
    original = await createDatabase(server, 'preflight_role');
    await query(server, 'postgres', `ALTER DATABASE "${original}" OWNER TO "${role}"`);
    const asRole = { ...server, user: role, password, env: { ...server.env, PGUSER: role, PGPASSWORD: password } };
    p = await makeProfile({ server: asRole, name: original }, { nodes: 40, extra: 'repository: { strategy: tar }' });
    const backup = await cli(['run', p.manifest], { env: noAdmin });
    expect(backup.code, backup.stderr).to.equal(0);
  });
  after(async () => {
    for (const name of [...created, original]) await dropDatabase(server, name);
    await p?.cleanup();
    await query(server, 'postgres', `DROP ROLE IF EXISTS "${role}"`);
  });

  /** No administrative role from the environment: the profile's role is all there is. */
  const noAdmin = { PGUSER: undefined, DATABASE_URL: undefined, PGPASSWORD: undefined };
  /** The harness's superuser, as an operator would name it. */
  const superuser = () => ({ ...noAdmin, PGPASSWORD: server.password });

  async function owners(name: string): Promise<{ database: string; tables: string[] }> {
    const [row] = await query<{ owner: string }>(server, 'postgres', 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [name]);
    const tables = await query<{ tableowner: string }>(server, name, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'");
    return { database: row!.owner, tables: tables.map((t) => t.tableowner) };
  }

  it('refuses before anything is written, with the ALTER ROLE and --admin-user fixes; --admin-user creates it owned by the profile role', async () => {
    const name = restoredName();
    created.push(name);
    const target = join(p!.dir, 'restored');
    const refused = await cli(['restore', p!.manifest, 'latest', '--to', target, '--database', name], { env: noAdmin });
    expectRefused(refused);
    expect(refused.stderr).to.contain(`ALTER ROLE "${role}" CREATEDB;`).and.contain(`--admin-user ${server.user}`).and.contain(`PGUSER=${server.user}`);
    expect(await readdir(p!.dir)).not.to.include('restored');
    expect(await databaseExists(server, name)).to.equal(false);

    const restored = await cli(['restore', p!.manifest, 'latest', '--to', target, '--database', name, '--admin-user', server.user], { env: superuser() });
    expect(restored.code, restored.stderr).to.equal(0);
    expect(await owners(name)).to.deep.equal({ database: role, tables: [role] });
    expect(await databaseText(server, name)).to.equal(await databaseText(server, original));
    expect(await fileHashes(join(target, 'repository'))).to.deep.equal(await fileHashes(p!.profile.repositoryPath));
  });

  it('--no-owner --jobs 2 as the admin still gives every object to the profile role', async () => {
    const name = restoredName();
    created.push(name);
    const restored = await cli(['restore', p!.manifest, 'latest', '--to', join(p!.dir, 'no-owner'), '--database', name, '--admin-user', server.user, '--no-owner', '--jobs', '2'], { env: superuser() });
    expect(restored.code, restored.stderr).to.equal(0);
    expect(await owners(name)).to.deep.equal({ database: role, tables: [role] });
  });

  it('verify --restore-test takes PGUSER as the administrative role and drops its scratch database', async () => {
    const refused = await cli(['verify', p!.manifest, '--restore-test'], { env: noAdmin });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain(`ALTER ROLE "${role}" CREATEDB;`);
    const verified = await cli(['verify', p!.manifest, '--restore-test'], { env: { ...superuser(), PGUSER: server.user } });
    expect(verified.code, verified.stderr).to.equal(0);
    expect(verified.stdout).to.contain('restore test passed');
    expect(verified.stderr).to.contain(`as ${server.user} (from PGUSER)`);
    const left = await query(server, 'postgres', "SELECT datname FROM pg_database WHERE datname LIKE 'backplan_verify_%'");
    expect(left).to.deep.equal([]);
  });
});

describe('the administrative role', () => {
  const profile = { host: 'db.example', port: 5432, name: 'aiida', user: 'aiida_x' };
  const pick = (adminUser: string | undefined, env: NodeJS.ProcessEnv) => {
    const { admin, note } = adminRole(profile, adminUser, env);
    return { user: admin?.user, source: admin?.source, password: admin?.secrets.pgPassword, note };
  };

  it('is --admin-user, else DATABASE_URL, else PGUSER; never the profile role itself', () => {
    const url = 'postgres://boss:s3cret@db.example:5432/x';
    expect(pick('root', { PGUSER: 'postgres', DATABASE_URL: url, PGPASSWORD: 'pw' })).to.include({ user: 'root', source: '--admin-user', password: 'pw' });
    expect(pick(undefined, { PGUSER: 'postgres', DATABASE_URL: url, PGPASSWORD: 'pw' })).to.include({ user: 'boss', source: 'DATABASE_URL', password: 's3cret' });
    expect(pick(undefined, { PGUSER: 'postgres', PGPASSWORD: 'pw' })).to.include({ user: 'postgres', source: 'PGUSER', password: 'pw' });
    expect(pick(undefined, { PGUSER: 'aiida_x' })).to.include({ user: undefined });
    expect(pick('aiida_x', {})).to.include({ user: undefined });
    expect(pick(undefined, {})).to.include({ user: undefined });
  });

  it('takes DATABASE_URL only when it names the target server', () => {
    const other = pick(undefined, { DATABASE_URL: 'postgres://boss@elsewhere:5432/x', PGUSER: 'postgres' });
    expect(other).to.include({ user: 'postgres', source: 'PGUSER' });
    expect(other.note).to.contain('DATABASE_URL names elsewhere:5432');
  });
});
