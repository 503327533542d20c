import { expect } from 'chai';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addNodes, touchNodes } from '../src/demo/profile/index.js';
import { nodeFolder } from '../src/incremental/layout.js';
import { formatBytes } from '../src/util/bytes.js';
import type { Plan } from '../src/plan/types.js';
import { withDatabase } from './support/pg.js';
import { cli } from './support/profile.js';
import type { TestDatabase } from './support/pg.js';
import { archiveMembers, expectRestoredMatchesDatabase, incrementalProfile, restoreChain, runSnapshot } from './support/incremental.js';
import type { IncrementalProfile, Snapshot } from './support/incremental.js';

/** What `backplan plan` says the next incremental would copy (the part after `now: `). */
async function plannedCopy(p: IncrementalProfile): Promise<string> {
  const result = await cli(['plan', p.manifest, '--format', 'json']);
  expect(result.code, result.stderr).to.equal(0);
  const plan = JSON.parse(result.stdout) as Plan;
  const summary = plan.steps.find((s) => s.id === 'repository')!.summary;
  expect(summary).to.match(/; now: /);
  return summary.split('; now: ')[1]!;
}

describe('incremental strategy', function () {
  this.timeout(180_000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  const scratch = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'backplan-restore-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  const profile = async (db: TestDatabase, opts: Parameters<typeof incrementalProfile>[1]): Promise<IncrementalProfile> => {
    const p = await incrementalProfile(db, opts);
    cleanups.push(() => rm(p.dir, { recursive: true, force: true }));
    return p;
  };

  it('AiiDA 1.x: after inserts and mtime updates, the restored chain holds every file of every node', () =>
    withDatabase('incr', async (db) => {
      const p = await profile(db, { layout: 'aiida-1', nodes: 300 });
      const full = await runSnapshot(p);
      expect(full.id).to.match(/-full$/);
      expect(full.extra).to.deep.include({ mode: 'full', archive: 'repository.tar.zst' });
      expect(full.record.watermark).to.be.a('string');

      const snapshots: Snapshot[] = [full];
      for (let round = 0; round < 3; round++) {
        await addNodes(p.profile, { server: db.server, database: db.name, count: 30 });
        const touched = await touchNodes(p.profile, { server: db.server, database: db.name, count: 10 });
        const planned = await plannedCopy(p);
        const incr = await runSnapshot(p);
        expect(planned).to.equal(`${incr.extra.nodes} changed nodes, ${incr.record.repository!.files} files, ${formatBytes(incr.record.repository!.bytes!)}`);
        expect(incr.id).to.match(/-incr$/);
        expect(incr.record.parent).to.equal(snapshots.at(-1)!.id);
        expect(incr.extra.since).to.equal(snapshots.at(-1)!.record.watermark);
        const members = archiveMembers(join(incr.dir, 'repository-delta.tar.zst'));
        for (const uuid of touched) expect(members, `touched node ${uuid}`).to.include(`${nodeFolder(uuid)}/path/file-0.txt`);
        // Only changed nodes: far fewer than the 600+ files of the repository.
        expect(incr.record.repository?.files).to.be.within(80, 300);
        snapshots.push(incr);
      }

      const target = await scratch();
      await restoreChain(p.destination, snapshots.at(-1)!.id, target);
      expect(await expectRestoredMatchesDatabase(db, p, target)).to.be.greaterThan(700);
    }));

  it('AiiDA 2.x: loose objects, grown packs (only the tail stored) and packs.idx deltas restore to every object', () =>
    withDatabase('incr', async (db) => {
      const p = await profile(db, { layout: 'disk-objectstore', nodes: 300, packed: true });
      const full = await runSnapshot(p);
      const c0 = full.extra.container!;
      expect(c0.pieces.map((x) => [x.pack, x.offset, x.reason])).to.deep.equal([['0', 0, 'new']]);
      expect(c0.index).to.deep.include({ kind: 'copy', artefact: 'packs.idx.zst' });
      const packLength = c0.packs['0']!.length;
      expect(packLength).to.equal((await stat(join(p.profile.repositoryPath, 'container/packs/0'))).size);

      // New packed nodes: only the appended tail is stored.
      await addNodes(p.profile, { server: db.server, database: db.name, count: 30, packed: true });
      const grown = await runSnapshot(p);
      const c1 = grown.extra.container!;
      const newLength = (await stat(join(p.profile.repositoryPath, 'container/packs/0'))).size;
      expect(c1.pieces).to.deep.equal([{ pack: '0', offset: packLength, length: newLength - packLength, artefact: `packs/0@${packLength}.zst`, reason: 'grown' }]);
      expect(c1.index).to.deep.include({ kind: 'delta', artefact: 'packs.idx-delta.sql.zst' });
      expect(grown.extra.packBytes).to.equal(newLength - packLength);
      expect(grown.record.artefacts.map((a) => a.path)).to.not.include(`packs/0@0.zst`);

      // New loose nodes and touched ones: the loose objects of changed nodes, no pack bytes.
      await addNodes(p.profile, { server: db.server, database: db.name, count: 30 });
      await touchNodes(p.profile, { server: db.server, database: db.name, count: 10 });
      const loose = await runSnapshot(p);
      expect(loose.extra.container!.pieces).to.deep.equal([]);
      expect(loose.record.repository?.files).to.equal(60);
      expect(archiveMembers(join(loose.dir, 'repository-delta.tar.zst')).every((m) => m.startsWith('container/loose/'))).to.equal(true);

      await addNodes(p.profile, { server: db.server, database: db.name, count: 15, packed: true });
      const planned = await plannedCopy(p);
      const last = await runSnapshot(p);
      const { files, bytes } = last.record.repository!;
      expect(planned).to.equal(`${last.extra.nodes} changed nodes, ${files} files, ${formatBytes(bytes! - last.extra.packBytes!)} (+ ${formatBytes(last.extra.packBytes!)} of pack data)`);
      expect(last.extra.container!.pieces.map((x) => x.reason)).to.deep.equal(['grown']);

      const target = await scratch();
      const chain = await restoreChain(p.destination, last.id, target);
      expect(chain.map((s) => s.id)).to.deep.equal([full.id, grown.id, loose.id, last.id]);
      expect(await expectRestoredMatchesDatabase(db, p, target)).to.equal(2 * 375);
    }));
});
