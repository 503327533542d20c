import { expect } from 'chai';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectTo } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import type { VerificationRecord } from '../src/commands/verify.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { withDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';

async function snapshotDirs(destination: string): Promise<string[]> {
  return (await readdir(destination)).filter((n) => /-(full|incr)$/.test(n)).sort().map((n) => join(destination, n));
}

async function flipByte(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(path, bytes);
}

async function verification(dir: string): Promise<VerificationRecord> {
  return JSON.parse(await readFile(join(dir, 'verification.json'), 'utf8')) as VerificationRecord;
}

async function listed(p: TestProfile): Promise<{ id: string; verified?: string }[]> {
  const result = await cli(['list', p.manifest, '--json']);
  expect(result.code, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as { id: string; verified?: string }[];
}

async function scratchDatabases(server: PgServer): Promise<string[]> {
  const client = await connectTo(server, 'postgres');
  try {
    return (await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'backplan_verify_%'")).rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

describe('backplan verify', function () {
  this.timeout(120_000);
  let p: TestProfile | undefined;
  afterEach(async () => p?.cleanup());

  it('re-hashes every artefact and listed file, names each mismatch and exits 1; list stops showing it verified', () =>
    withDatabase('verify', async (db) => {
      p = await makeProfile(db, { nodes: 40, extra: 'repository: { strategy: rsync }' });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const [dir] = await snapshotDirs(p.destination);
      const good = await cli(['verify', p.manifest]);
      expect(good.code, good.stderr).to.equal(0);
      expect(good.stdout).to.match(/-full {2}ok {2}\d+ files/);
      expect(await verification(dir!)).to.include({ deep: true }).and.have.property('verifiedAt');
      expect((await listed(p))[0]!.verified).to.be.a('string');

      const sums = await readFile(join(dir!, 'repository.SHA256SUMS'), 'utf8');
      const repoFile = sums.split('\n')[0]!.split('  ')[1]!;
      await flipByte(join(dir!, repoFile));
      await flipByte(join(dir!, 'database.dump.zst'));
      const bad = await cli(['verify', p.manifest, 'latest']);
      expect(bad.code).to.equal(1);
      expect(bad.stdout).to.contain(`${repoFile}: sha256 does not match repository.SHA256SUMS`);
      expect(bad.stdout).to.contain('database.dump.zst: sha256');
      expect(bad.stderr).to.contain('1 of 1 snapshot(s) cannot be restored');
      expect(bad.stderr).not.to.match(/^\s+at /m);
      const record = await verification(dir!);
      expect(record.problems.map((x) => x.path)).to.have.members([repoFile, 'database.dump.zst']);
      expect(record).to.have.property('failedAt');
      expect((await listed(p))[0]!.verified).to.equal(undefined);
    }));

  it('--all checks every complete snapshot and names only the damaged one', () =>
    withDatabase('verify', async (db) => {
      p = await makeProfile(db, { nodes: 30, extra: 'repository: { strategy: tar }' });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      await new Promise((r) => setTimeout(r, 1100)); // snapshot ids have one-second resolution
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const [older, newer] = await snapshotDirs(p.destination);
      await flipByte(join(older!, 'repository.tar.zst'));
      expect((await cli(['verify', p.manifest])).code, 'latest is intact').to.equal(0);
      const all = await cli(['verify', p.manifest, '--all']);
      expect(all.code).to.equal(1);
      expect(all.stderr).to.contain(`1 of 2 snapshot(s) cannot be restored: ${older!.split('/').at(-1)} (a checksum or file does not match)`);
      expect(all.stdout).to.contain(`${newer!.split('/').at(-1)}  ok`);
    }));

  it('--restore-test restores into scratch copies, compares the counts of every schema and the large objects, records it, and drops the copies', () =>
    withDatabase('verify', async (db) => {
      p = await makeProfile(db, { nodes: 50, extra: 'repository: { strategy: tar }\ndatabase: { format: directory }' });
      const client = await connectTo(db.server, db.name);
      try {
        await client.query('CREATE SCHEMA lab; CREATE TABLE lab.samples (id int); INSERT INTO lab.samples SELECT generate_series(1, 3)');
        await client.query("SELECT lo_from_bytea(0, 'a large object')");
      } finally {
        await client.end();
      }
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const [dir] = await snapshotDirs(p.destination);
      const recorded = (JSON.parse(await readFile(join(dir!, 'snapshot.json'), 'utf8')) as SnapshotRecord).database!.rowCounts;
      expect(recorded).to.include({ 'public.db_dbnode': 50, 'lab.samples': 3, 'large objects': 1 });
      const result = await cli(['verify', p.manifest, '--restore-test']);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.contain(`restore test passed (${Object.keys(recorded).length} table counts match, `);
      const record = await verification(dir!);
      expect(record.restoreTest).to.include({ ok: true });
      expect(record.restoreTest!.rowCounts!['public.db_dbnode']).to.deep.equal({ recorded: 50, restored: 50 });
      expect(record.restoreTest!.rowCounts!['lab.samples']).to.deep.equal({ recorded: 3, restored: 3 });
      expect(record.restoreTest!.rowCounts!['large objects']).to.deep.equal({ recorded: 1, restored: 1 });
      expect(record.restoreTest!.repository!.restored).to.deep.equal(record.restoreTest!.repository!.recorded);
      expect((await listed(p))[0]!.verified).to.equal(record.verifiedAt);
      expect(await scratchDatabases(db.server)).to.deep.equal([]);

      // A snapshot that does not restore to what it recorded fails, and is still cleaned up.
      const file = join(dir!, 'snapshot.json');
      const snapshot = JSON.parse(await readFile(file, 'utf8')) as SnapshotRecord;
      snapshot.database!.rowCounts['lab.samples'] = 4;
      snapshot.database!.rowCounts['large objects'] = 2;
      await writeFile(file, JSON.stringify(snapshot));
      const failed = await cli(['verify', p.manifest, '--restore-test']);
      expect(failed.code).to.equal(1);
      expect(failed.stdout).to.contain('restore test: table lab.samples: 4 recorded, 3 restored');
      expect(failed.stdout).to.contain('restore test: large objects: 2 recorded, 1 restored');
      expect((await verification(dir!)).restoreTest).to.include({ ok: false });
      expect(await scratchDatabases(db.server)).to.deep.equal([]);
    }));
});
