import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFile, readlink, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../src/record/checksums.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { withDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';

async function onlySnapshot(destination: string): Promise<{ id: string; dir: string; record: SnapshotRecord }> {
  const ids = (await readdir(destination)).filter((n) => /^\d{4}-.*-(full|incr)$/.test(n));
  expect(ids).to.have.length(1);
  const dir = join(destination, ids[0]!);
  return { id: ids[0]!, dir, record: JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8')) as SnapshotRecord };
}

async function expectChecksumsMatch(dir: string, record: SnapshotRecord): Promise<void> {
  for (const artefact of record.artefacts) {
    const actual = await sha256File(join(dir, artefact.path));
    expect(actual, artefact.path).to.deep.equal({ sha256: artefact.sha256, bytes: artefact.bytes });
    if (artefact.covers) execFileSync('sha256sum', ['--check', '--quiet', artefact.path], { cwd: dir });
  }
}

/** Regular files and bytes in an archive by GNU tar's own long listing (its `-` lines). */
function tarListing(archive: string): { files: number; bytes: number } {
  const script = 'case "$1" in *.zst) zstd -dc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;; esac | tar --list -vv --file=-';
  const regular = execFileSync('sh', ['-c', script, 'sh', archive], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('-'));
  return { files: regular.length, bytes: regular.reduce((sum, l) => sum + Number(l.split(/\s+/)[2]), 0) };
}

describe('backplan run', function () {
  this.timeout(120_000);
  let p: TestProfile | undefined;
  afterEach(async () => p?.cleanup());

  it('writes a tar snapshot laid out as SPEC says, every checksum matching', () =>
    withDatabase('run', async (db) => {
    p = await makeProfile(db, { extra: 'repository: { strategy: tar }\nretention: { keepLast: 2 }' });
    const result = await cli(['run', p.manifest]);
    expect(result.code, result.stderr).to.equal(0);
    const { id, dir, record } = await onlySnapshot(p.destination);
    expect(id).to.match(/^\d{4}-\d{2}-\d{2}T\d{6}Z-full$/);
    expect(await readlink(join(p.destination, 'latest'))).to.equal(id);
    expect((await readdir(dir)).sort()).to.include.members(['config', 'database.dump.zst', 'repository.tar.zst', 'snapshot.json']);
    expect(record.artefacts.map((a) => a.path)).to.include.members(['config/config.json', 'database.dump.zst', 'repository.tar.zst']);
    expect(record.database?.rowCounts['public.db_dbnode']).to.equal(200);
    expect(record.database?.exportedSnapshot).to.equal(true);
    expect(record.repository?.files).to.be.greaterThan(0);
    expect(record.repository).to.deep.include(tarListing(join(dir, 'repository.tar.zst')));
    await expectChecksumsMatch(dir, record);
    expect((await stat(join(dir, 'config/config.json'))).mode & 0o777).to.equal(0o600);
    expect((await stat(join(dir, 'database.dump.zst'))).mode & 0o777).to.equal(0o600);
    }));

  for (const compression of ['gzip', 'none']) {
    it(`counts the archived files from tar's stream with compression ${compression} too`, () =>
      withDatabase('run', async (db) => {
      p = await makeProfile(db, { nodes: 30, extra: `repository: { strategy: tar, tar: { compression: ${compression} } }` });
      const result = await cli(['run', p.manifest]);
      expect(result.code, result.stderr).to.equal(0);
      const { dir, record } = await onlySnapshot(p.destination);
      const artefact = compression === 'gzip' ? 'repository.tar.gz' : 'repository.tar';
      expect(record.repository?.files).to.be.greaterThan(0);
      expect(record.repository).to.deep.include(tarListing(join(dir, artefact)));
      expect(await readdir(dir)).to.include(artefact);
      await expectChecksumsMatch(dir, record);
      }));
  }

  it('keeps rsync snapshots hard-linked to the previous one and listed in SHA256SUMS', () =>
    withDatabase('run', async (db) => {
    p = await makeProfile(db, { extra: 'repository: { strategy: rsync }\ndatabase: { format: plain, compression: gzip }' });
    expect((await cli(['run', p.manifest])).code).to.equal(0);
    await new Promise((r) => setTimeout(r, 1100)); // snapshot ids have one-second resolution
    const second = await cli(['run', p.manifest]);
    expect(second.code, second.stderr).to.equal(0);
    const ids = (await readdir(p.destination)).filter((n) => n.endsWith('-full')).sort();
    expect(ids).to.have.length(2);
    const [a, b] = ids.map((id) => join(p!.destination, id));
    const sums = (await readFile(join(b!, 'repository.SHA256SUMS'), 'utf8')).trim().split('\n');
    const somePath = sums[0]!.split('  ')[1]!;
    expect((await stat(join(a!, somePath))).ino).to.equal((await stat(join(b!, somePath))).ino);
    const record = JSON.parse(await readFile(join(b!, 'snapshot.json'), 'utf8')) as SnapshotRecord;
    await expectChecksumsMatch(b!, record);
    expect(record.artefacts.map((x) => x.path)).to.include('database.sql.gz');
    }));

  it('lets only one of two concurrent runs hold the lock: the other exits 75', () =>
    withDatabase('run', async (db) => {
    p = await makeProfile(db, { nodes: 2000, extra: 'repository: { strategy: tar, tar: { level: 19 } }' });
    const [first, second] = await Promise.all([cli(['run', p.manifest]), new Promise((r) => setTimeout(r, 150)).then(() => cli(['run', p!.manifest]))]);
    expect([first.code, second.code].sort()).to.deep.equal([0, 75]);
    const locked = first.code === 75 ? first : second;
    expect(locked.stderr).to.match(/held by process \d+/);
    expect(locked.stderr).not.to.match(/^\s+at /m);
    }));
});
