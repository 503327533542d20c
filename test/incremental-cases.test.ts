/** The incremental strategy at its edges: the watermark, repacks, periodicity windows, hostile archives. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Header } from 'tar';
import { addNodes } from '../src/demo/profile/index.js';
import { connectTo } from '../src/demo/cluster.js';
import { applyRepositoryDelta } from '../src/restore/incremental-delta.js';
import { repackedPacks } from '../src/incremental/container.js';
import { nodeFolder } from '../src/incremental/layout.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { isBackplanError } from '../src/errors.js';
import { withDatabase } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';
import { archiveMembers, expectRestoredMatchesDatabase, incrementalProfile, restoreChain, indexRows, runSnapshot } from './support/incremental.js';
import type { IncrementalProfile } from './support/incremental.js';

const MINUTE = 60_000;

describe('incremental strategy: edge cases', function () {
  this.timeout(120_000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  const tempDir = async (prefix: string) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  const profile = async (db: TestDatabase, opts: Parameters<typeof incrementalProfile>[1]): Promise<IncrementalProfile> => {
    const p = await incrementalProfile(db, opts);
    cleanups.push(() => rm(p.dir, { recursive: true, force: true }));
    return p;
  };
  const sql = async (db: TestDatabase, text: string, params: unknown[] = []) => {
    const client = await connectTo(db.server, db.name);
    try {
      return (await client.query(text, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };

  it('copies a node committed after the snapshot with a time inside the margin in the next run (no gap at the watermark)', () =>
    withDatabase('incr', async (db) => {
      const p = await profile(db, { layout: 'aiida-1', nodes: 30, incremental: 'margin: 1m' });
      const full = await runSnapshot(p);
      const watermark = Date.parse(full.record.watermark!);
      // Two nodes stamped 30 s after the watermark, i.e. before the snapshot's clock (watermark +
      // margin), yet committed only now, after the export: the full cannot have them in its dump.
      // A third is stamped before the watermark: it belonged to the full and is not copied again.
      await addNodes(p.profile, { server: db.server, database: db.name, count: 3 });
      const late = await sql(db, 'SELECT uuid::text AS uuid FROM db_dbnode ORDER BY id DESC LIMIT 3');
      const [old, ...inMargin] = late.map((r) => r.uuid as string);
      await sql(db, 'UPDATE db_dbnode SET ctime = $2, mtime = $2 WHERE uuid = ANY($1::uuid[])', [inMargin, new Date(watermark + MINUTE / 2)]);
      await sql(db, 'UPDATE db_dbnode SET ctime = $2, mtime = $2 WHERE uuid = $1', [old, new Date(watermark - 1000)]);

      const next = await runSnapshot(p);
      const members = archiveMembers(join(next.dir, 'repository-delta.tar.zst'));
      for (const uuid of inMargin) expect(members).to.include(`${nodeFolder(uuid!)}/path/file-0.txt`);
      expect(members.filter((m) => m.includes(nodeFolder(old!)))).to.deep.equal([]);
      // Also the generated nodes stamped within the margin before the full: copied again, harmlessly.
      const [{ n }] = (await sql(db, 'SELECT count(*)::int AS n FROM db_dbnode WHERE mtime > $1 OR ctime > $1', [full.record.watermark])) as [{ n: number }];
      expect(next.extra.nodes).to.equal(n).and.to.be.at.least(2);
      expect(Date.parse(next.record.watermark!)).to.be.greaterThan(watermark);
    }));

  it('starts with a full when the latest snapshot was made by another strategy', () =>
    withDatabase('incr', async (db) => {
      const p = await profile(db, { layout: 'aiida-1', nodes: 30 });
      const tarManifest = join(p.dir, 'tar.yaml');
      await writeFile(tarManifest, (await readFile(p.manifest, 'utf8')).replace(/repository:[\s\S]*$/, 'repository: { strategy: tar }\n'));
      const tar = await runSnapshot({ ...p, manifest: tarManifest });
      expect(tar.record.repository?.strategy).to.equal('tar');
      const first = await runSnapshot(p);
      expect(first.id).to.match(/-full$/);
      expect(first.extra.mode).to.equal('full');
      const second = await runSnapshot(p);
      expect(second.record.parent).to.equal(first.id);
      expect(second.extra.mode).to.equal('delta');
    }));

  it('copies a repacked pack whole and replaces its packs.idx rows', () =>
    withDatabase('incr', async (db) => {
      const p = await profile(db, { layout: 'disk-objectstore', nodes: 120, packed: true });
      await runSnapshot(p);
      const container = join(p.profile.repositoryPath, 'container');
      await reversePack(container, 0);
      await addNodes(p.profile, { server: db.server, database: db.name, count: 9, packed: true });

      const incr = await runSnapshot(p);
      const size = (await readFile(join(container, 'packs/0'))).length;
      expect(incr.extra.container!.pieces).to.deep.equal([{ pack: '0', offset: 0, length: size, artefact: 'packs/0@0.zst', reason: 'repacked' }]);
      const target = await tempDir('backplan-restore-');
      await restoreChain(p.destination, incr.id, target);
      expect(await expectRestoredMatchesDatabase(db, p, target)).to.equal(2 * 129);
      expect(indexRows(join(target, 'container'))).to.deep.equal(indexRows(container));
    }));

  it('tells grown packs from shrunk or rewritten ones by the recorded length and last-MiB hash', async () => {
    const container = await tempDir('backplan-packs-');
    await mkdir(join(container, 'packs'));
    const write = (pack: string, data: string) => writeFile(join(container, 'packs', pack), data);
    await Promise.all([write('0', 'aaaa'), write('1', 'bbbb'), write('2', 'cccc')]);
    const state = (data: string) => ({ length: data.length, checkFrom: 0, checkSha256: execFileSync('sha256sum', { input: data, encoding: 'utf8' }).split(' ')[0]! });
    const known = { '0': state('aaaa'), '1': state('bbbb'), '2': state('cccc'), '3': state('dddd') };
    await write('0', 'aaaa-appended'); // grown
    await truncate(join(container, 'packs/1'), 2); // shrank
    await write('2', 'cCcc'); // rewritten in place, same length
    expect([...(await repackedPacks(container, known))].sort()).to.deep.equal(['1', '2']);
  });

  it('periodicity: one run catches a 10-day backlog up in 2-day windows of change time, each its own pass', () =>
    withDatabase('incr', async (db) => {
      const p = await profile(db, { layout: 'aiida-1', nodes: 150, historyDays: 30, incremental: 'margin: 1m, periodicity: 2d' });
      const full = await runSnapshot(p);
      // Pretend the full was taken 10 days ago: a third of the nodes changed since.
      const since = new Date(Date.now() - 10 * 86_400_000).toISOString();
      const recordPath = join(full.dir, 'snapshot.json');
      const record = JSON.parse(await readFile(recordPath, 'utf8')) as SnapshotRecord;
      await writeFile(recordPath, JSON.stringify({ ...record, watermark: since }));

      const incr = await runSnapshot(p);
      const changed = (await sql(db, 'SELECT uuid::text AS uuid FROM db_dbnode WHERE mtime > $1 OR ctime > $1', [since])).map((r) => r.uuid as string);
      expect(changed.length).to.be.within(40, 60);
      const windows = incr.extra.windows!;
      expect(windows.length).to.be.within(5, 6);
      expect(windows[0]!.from).to.equal(since);
      windows.forEach((w, i) => {
        expect(w.to, `window ${i} is bounded`).to.be.a('string');
        if (i > 0) expect(w.from, `window ${i} starts where ${i - 1} ended`).to.equal(windows[i - 1]!.to);
        // Each window starts at its first change, so none is an empty pass.
        expect(w.nodes, `window ${i} nodes`).to.be.greaterThan(0);
        expect(Date.parse(w.to!) - Date.parse(w.from)).to.be.at.least(2 * 86_400_000);
      });
      expect(windows.reduce((n, w) => n + w.nodes, 0)).to.equal(changed.length);
      expect(incr.extra.nodes).to.equal(changed.length);
      const folders = new Set(archiveMembers(join(incr.dir, 'repository-delta.tar.zst')).map((m) => m.split('/').slice(0, 5).join('/')));
      expect([...folders].sort()).to.deep.equal(changed.map(nodeFolder).sort());
    }));

  describe('applyRepositoryDelta refuses what would land outside the target', () => {
    type Hostile = { path: string; type: Header['type']; linkpath?: string };
    const cases: [string, Hostile[]][] = [
      ['a file ../escaped', [{ path: '../escaped', type: 'File' }]],
      ['a file /etc/escaped', [{ path: '/etc/escaped', type: 'File' }]],
      ['a file through a symlink out', [{ path: 'repository/link', type: 'SymbolicLink', linkpath: '../..' }, { path: 'repository/link/escaped', type: 'File' }]],
      ['a file through an absolute symlink', [{ path: 'repository/abs-link', type: 'SymbolicLink', linkpath: '/etc' }, { path: 'repository/abs-link/escaped', type: 'File' }]],
      ['a hard link out', [{ path: 'repository/hard', type: 'Link', linkpath: '../outside' }]],
      ['a FIFO', [{ path: 'repository/fifo', type: 'FIFO' }]],
    ];
    for (const [what, entries] of cases) {
      it(what, async () => {
        const dir = await tempDir('backplan-hostile-');
        const target = join(dir, 'target');
        const hostile = entries.map((e) => ({ ...e, data: e.type === 'File' ? 'bad' : '' }));
        await writeFile(join(dir, 'repository.tar'), hostileTar([{ path: 'repository/ok', type: 'File', data: 'ok' }, ...hostile]));
        execFileSync('zstd', ['-q', '--rm', join(dir, 'repository.tar')]);
        const error = await applyRepositoryDelta(dir, fullRecord(), target).then(() => undefined, (e: unknown) => e);
        expect(isBackplanError(error) && error.code, String(error)).to.equal('UNSAFE_ARCHIVE');
        expect(await readFile(join(dir, 'escaped'), 'utf8').catch(() => undefined)).to.equal(undefined);
        // Refused before anything was written.
        expect(await readFile(join(target, 'repository', 'ok'), 'utf8').catch(() => undefined)).to.equal(undefined);
      });
    }

    it('a record naming a pack piece outside the snapshot', async () => {
      const record = fullRecord();
      record.repository!.extra!.container = { path: 'container', packs: {}, pieces: [{ pack: '0', offset: 0, length: 1, artefact: '../../etc/passwd', reason: 'new' }] };
      const error = await applyRepositoryDelta(await tempDir('backplan-hostile-'), record, '/nonexistent').then(() => undefined, (e: unknown) => e);
      expect(isBackplanError(error) && error.code).to.equal('UNSAFE_ARCHIVE');
    });

  });
});

/** Rewrites a pack with its objects in reverse order and points packs.idx at the new offsets, as a repack would. */
async function reversePack(container: string, pack: number): Promise<void> {
  const rows = indexRows(container).filter((r) => r.pack_id === pack).sort((a, b) => b.offset - a.offset);
  const data = await readFile(join(container, 'packs', String(pack)));
  let offset = 0;
  const updates: string[] = [];
  const chunks = rows.map((r) => {
    updates.push(`UPDATE db_object SET "offset" = ${offset} WHERE id = ${r.id};`);
    offset += r.length;
    return data.subarray(r.offset, r.offset + r.length);
  });
  await writeFile(join(container, 'packs', String(pack)), Buffer.concat(chunks));
  execFileSync('sqlite3', ['-bail', join(container, 'packs.idx')], { input: `BEGIN;\n${updates.join('\n')}\nCOMMIT;\n` });
}

/** A raw tar stream, so that entries GNU tar and node-tar would refuse to write can be made. */
function hostileTar(entries: { path: string; type: Header['type']; linkpath?: string; data: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.data);
    const header = new Header({ path: e.path, type: e.type, linkpath: e.linkpath, size: body.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function fullRecord(): SnapshotRecord {
  return {
    format: 'backplan-snapshot/1',
    id: '2026-01-01T000000Z-full',
    kind: 'full',
    job: 'hostile',
    startedAt: '',
    completedAt: '',
    tool: { name: 'backplan', version: '0' },
    manifest: { file: '', sha256: '' },
    watermark: '2026-01-01T00:00:00.000Z',
    repository: { strategy: 'incremental', layout: 'aiida-1', source: '/x', files: 2, bytes: 5, extra: { mode: 'full', archive: 'repository.tar.zst' } },
    artefacts: [],
    steps: [],
  };
}
