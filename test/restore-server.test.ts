/**
 * Restoring onto another server (#13): `--host/--port/--user` or `--dsn` name it; the snapshot
 * keeps the roles its dump names (database.roles.sql, never a password); a server lacking them is
 * refused up front, and `--create-roles` or `--no-owner --no-privileges` restore onto it.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { parseRoleStatements, rolesFile, rolesOnly, withoutGrantor } from '../src/db/roles-sql.js';
import { connectTo, createDatabase, dropDatabase, startThrowawayCluster } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { walkFiles } from '../src/record/checksums.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { databaseText, fileHashes } from './support/compare.js';
import { testServer } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';
import { wrappedToolPath } from './support/tools.js';
import type { CliResult, TestProfile } from './support/profile.js';

const exec = promisify(execFile);

async function query<R extends pg.QueryResultRow>(server: PgServer, database: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = await connectTo(server, database);
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A database as text without who owns what and who may do what: what --no-owner --no-privileges leaves out. */
function withoutOwnersAndGrants(text: string): string {
  return text
    .split('\n')
    .filter((line) => line !== '' && !/^--/.test(line) && !/ OWNER TO /.test(line) && !/^(GRANT|REVOKE) /.test(line))
    .join('\n');
}

function expectRefused(result: CliResult): void {
  expect(result.code, result.stderr).to.equal(1);
  expect(result.stderr).to.contain('refusing to restore').and.contain('nothing was changed');
  expect(result.stderr).not.to.match(/^\s+at /m);
}

describe('restore onto another server, whose roles are missing', function () {
  this.timeout(300_000);
  const tag = randomBytes(4).toString('hex');
  const owner = `bp_owner_${tag}`;
  const reader = `bp_reader_${tag}`;
  const unrelated = `bp_unrelated_${tag}`;
  const canary = `canary-${randomBytes(8).toString('hex')}`;
  let source: PgServer;
  let other: PgServer;
  let original: string;
  let p: TestProfile;
  let snapshotDir: string;
  /** Nothing from the environment picks a role or a server: the command line does. */
  const env = { PGHOST: undefined, PGPORT: undefined, PGUSER: undefined, PGPASSWORD: undefined, DATABASE_URL: undefined };

  // A table owned by an extra role (with a password), a GRANT to another, a membership between
  // them, and a role with a password the database does not need.
  before(async () => {
    source = await testServer();
    await query(source, 'postgres', `CREATE ROLE ${owner} LOGIN PASSWORD '${canary}'; CREATE ROLE ${reader} NOLOGIN; GRANT ${reader} TO ${owner}; CREATE ROLE ${unrelated} LOGIN PASSWORD '${canary}-unrelated'`);
    original = await createDatabase(source, 'another_server');
    p = await makeProfile({ server: source, name: original }, { nodes: 40, extra: 'repository: { strategy: tar }' });
    await query(source, original, `ALTER TABLE db_dbcomment OWNER TO ${owner}; GRANT SELECT ON db_dbnode TO ${reader}; GRANT USAGE ON SCHEMA public TO ${reader}`);
    const backup = await cli(['run', p.manifest]);
    expect(backup.code, backup.stderr).to.equal(0);
    const [id] = (await readdir(p.destination)).filter((n) => n.endsWith('-full'));
    snapshotDir = join(p.destination, id!);
    other = await startThrowawayCluster();
  });
  after(async () => {
    await other?.stop();
    if (original) await dropDatabase(source, original);
    await query(source, 'postgres', `DROP ROLE IF EXISTS ${owner}, ${reader}, ${unrelated}`).catch(() => undefined);
    await p?.cleanup();
  });

  const onOther = () => ['--host', '127.0.0.1', '--port', String(other.port)];
  const dsn = (user = 'postgres') => `postgres://${user}@127.0.0.1:${other.port}`;
  const restore = (args: string[]) => cli(['restore', p.manifest, 'latest', ...args], { env });
  const rolesOn = (server: PgServer) =>
    query<{ rolname: string; login: boolean; nopassword: boolean }>(server, 'postgres', 'SELECT rolname, rolcanlogin AS login, rolpassword IS NULL AS nopassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY 1', [[owner, reader, unrelated]]);
  const config = async (dir: string) => JSON.parse(await readFile(join(dir, '.aiida', 'config.json'), 'utf8')) as { profiles: Record<string, { storage: { config: Record<string, unknown> } }> };

  it('keeps the roles the database needs in the snapshot, and no password anywhere in it', async () => {
    const record = JSON.parse(await readFile(join(snapshotDir, 'snapshot.json'), 'utf8')) as SnapshotRecord;
    expect(record.database!.roles).to.deep.equal({ owners: [owner, source.user].sort(), grantees: [reader], others: [] });
    expect(record.database!.owner).to.equal(source.user);
    expect(record.artefacts.map((a) => a.path)).to.include('database.roles.sql');
    const roles = await readFile(join(snapshotDir, 'database.roles.sql'), 'utf8');
    expect(roles).to.contain(`CREATE ROLE ${owner};`).and.contain(`CREATE ROLE ${reader};`).and.contain(`GRANT ${reader} TO ${owner}`);
    expect(roles).not.to.contain(unrelated);
    for await (const path of walkFiles(snapshotDir)) {
      const file = path.toString();
      const bytes = file.endsWith('.zst') ? (await exec('zstd', ['-dc', file], { encoding: 'buffer', maxBuffer: 256 << 20 })).stdout : await readFile(file);
      expect(bytes.includes('canary'), file).to.equal(false);
      expect(bytes.includes('SCRAM-SHA-256'), file).to.equal(false);
    }
  });

  it('refuses up front, with --host/--port and with --dsn, naming the missing roles and both fixes', async () => {
    for (const server of [onOther(), ['--dsn', dsn()]]) {
      const name = `refused_${tag}`;
      const target = join(p.dir, 'refused');
      const refused = await restore([...server, '--to', target, '--database', name]);
      expectRefused(refused);
      expect(refused.stderr).to.contain(`do not exist on 127.0.0.1:${other.port}`).and.contain(`${owner} (owns objects)`).and.contain(`${reader} (named in GRANTs)`);
      expect(refused.stderr).to.contain('--create-roles').and.contain('--no-owner --no-privileges');
      expect(await readdir(p.dir)).not.to.include('refused');
      expect(await query(other, 'postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).to.deep.equal([]);
    }
    expect(await rolesOn(other)).to.deep.equal([]);
  });

  it('refuses a --dsn holding a password without echoing it', async () => {
    const r = await restore(['--dsn', `postgres://postgres:${canary}@127.0.0.1:${other.port}`, '--to', join(p.dir, 'never')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('--dsn holds a password').and.not.contain(canary);
  });

  it('--no-owner --no-privileges restores without the roles: every object owned by the restoring owner, no grants, the same data', async () => {
    await query(other, 'postgres', 'CREATE ROLE aiida_there LOGIN');
    const name = `plain_${tag}`;
    const target = join(p.dir, 'no-owner');
    const args = [...onOther(), '--user', 'aiida_there', '--admin-user', 'postgres', '--no-owner', '--no-privileges', '--to', target, '--database', name];
    const r = await restore(args);
    expect(r.code, r.stderr).to.equal(0);
    expect(await rolesOn(other)).to.deep.equal([]);
    const owners = await query<{ owner: string }>(other, name, "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relnamespace = 'public'::regnamespace");
    expect(owners).to.deep.equal([{ owner: 'aiida_there' }]);
    const grants = await query(other, name, "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relacl IS NOT NULL");
    expect(grants).to.deep.equal([]);
    expect(withoutOwnersAndGrants(await databaseText(other, name))).to.equal(withoutOwnersAndGrants(await databaseText(source, original)));
    const restored = (await config(target)).profiles[p.profile.profileName]!.storage.config;
    expect(restored).to.include({ database_hostname: '127.0.0.1', database_port: other.port, database_username: 'aiida_there', database_name: name });
  });

  it('--create-roles as a role that may not create roles is refused up front, and no role is left behind', async () => {
    await query(other, 'postgres', 'CREATE ROLE weak LOGIN CREATEDB');
    const r = await restore(['--dsn', dsn('weak'), '--create-roles', '--to', join(p.dir, 'weak'), '--database', `weak_${tag}`]);
    expectRefused(r);
    expect(r.stderr).to.contain(`weak cannot create the roles ${owner}, ${reader} on 127.0.0.1:${other.port}: permission denied to create role`).and.contain('--admin-user postgres');
    expect(await rolesOn(other)).to.deep.equal([]);
  });

  it('--create-roles: a load failing after the roles were created drops the database and those roles again', async () => {
    const name = `failing_${tag}`;
    // pg_restore answers --version (the preflight) and fails the load.
    const path = await wrappedToolPath(p.dir, 'failing', 'pg_restore', { prelude: 'case "$1" in --version) ;; *) echo "load failed on purpose" >&2; exit 1;; esac' });
    const r = await cli(['restore', p.manifest, 'latest', '--dsn', dsn(), '--create-roles', '--to', join(p.dir, 'failing'), '--database', name], { env: { ...env, PATH: path } });
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`dropped the partly restored database ${name}`).and.contain(`dropped the roles this restore created (${owner}, ${reader})`);
    expect(await rolesOn(other)).to.deep.equal([]);
    expect(await query(other, 'postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).to.deep.equal([]);
  });

  it('--create-roles (--dsn) creates them without passwords, with their membership; owners, grants and data as in the original', async () => {
    const name = `created_${tag}`;
    const target = join(p.dir, 'created');
    const dry = await restore(['--dsn', `${dsn()}/${name}`, '--create-roles', '--to', target, '--dry-run']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.contain(`create ${owner}, ${reader} on postgres@127.0.0.1:${other.port}`).and.contain(`CREATE ROLE ${owner};`);
    expect(await rolesOn(other)).to.deep.equal([]);

    const r = await restore(['--dsn', `${dsn()}/${name}`, '--create-roles', '--to', target]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`created ${owner}, ${reader}, without passwords`);
    expect(await rolesOn(other)).to.deep.equal([
      { rolname: owner, login: true, nopassword: true },
      { rolname: reader, login: false, nopassword: true },
    ]);
    const [member] = await query<{ member: boolean }>(other, 'postgres', "SELECT pg_has_role($1, $2, 'MEMBER') AS member", [owner, reader]);
    expect(member!.member).to.equal(true);
    expect(await databaseText(other, name)).to.equal(await databaseText(source, original));
    expect(await fileHashes(join(target, 'repository'))).to.deep.equal(await fileHashes(p.profile.repositoryPath));
    const restored = (await config(target)).profiles[p.profile.profileName]!.storage.config;
    expect(restored).to.include({ database_hostname: '127.0.0.1', database_port: other.port, database_name: name });
  });
});

describe("pg_dumpall's role statements, read back", () => {
  const dumped = [
    '--',
    '-- PostgreSQL database cluster dump',
    '--',
    '',
    '\\restrict abc123',
    '',
    "SET default_transaction_read_only = off;",
    '',
    'CREATE ROLE "Owner; x";',
    `ALTER ROLE "Owner; x" WITH NOSUPERUSER INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b' VALID UNTIL '2030-01-01 00:00:00+00';`,
    'CREATE ROLE reader;',
    'ALTER ROLE reader WITH NOSUPERUSER INHERIT NOLOGIN;',
    "COMMENT ON ROLE reader IS 'two",
    "lines; and a '' quote';",
    'CREATE ROLE other;',
    "ALTER ROLE reader SET search_path TO 'a;b';",
    'ALTER ROLE reader IN DATABASE elsewhere SET work_mem TO 1;',
    'GRANT reader TO "Owner; x" GRANTED BY postgres;',
    'GRANT other TO reader GRANTED BY postgres;',
    '',
    '\\unrestrict abc123',
  ].join('\n');

  it('keeps the statements about the kept roles and the memberships among them, never a password', () => {
    const kept = rolesOnly(parseRoleStatements(dumped), new Set(['Owner; x', 'reader']));
    expect(kept.map((s) => s.sql)).to.deep.equal([
      'CREATE ROLE "Owner; x"',
      `ALTER ROLE "Owner; x" WITH NOSUPERUSER INHERIT LOGIN VALID UNTIL '2030-01-01 00:00:00+00'`,
      'CREATE ROLE reader',
      'ALTER ROLE reader WITH NOSUPERUSER INHERIT NOLOGIN',
      "COMMENT ON ROLE reader IS 'two\nlines; and a '' quote'",
      "ALTER ROLE reader SET search_path TO 'a;b'",
      'GRANT reader TO "Owner; x" GRANTED BY postgres',
    ]);
    expect(rolesFile(kept)).not.to.contain('SCRAM').and.not.to.contain('restrict');
    expect(withoutGrantor(kept.at(-1)!.sql)).to.equal('GRANT reader TO "Owner; x"');
  });
});
