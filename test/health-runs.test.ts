/**
 * Runs build only on restorable snapshots of their own job (issue #11): a damaged or broken
 * latest snapshot makes the next run a full, saying why; a second job at the same destination
 * is never a parent, and restoring one job never gives the other's files.
 */
import { expect } from 'chai';
import { readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDatabase, dropDatabase } from '../src/demo/cluster.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { fileHashes } from './support/compare.js';
import { incrementalProfile, runSnapshot } from './support/incremental.js';
import type { IncrementalProfile } from './support/incremental.js';
import { testServer } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';
import { cli } from './support/profile.js';

describe('runs build only on restorable snapshots of their own job', function () {
  this.timeout(180_000);
  const dbs: TestDatabase[] = [];
  const profiles: IncrementalProfile[] = [];
  async function profile(name: string): Promise<IncrementalProfile> {
    const server = await testServer();
    const db = { server, name: await createDatabase(server, name) };
    dbs.push(db);
    const p = await incrementalProfile(db, { layout: 'aiida-1', nodes: 30 });
    profiles.push(p);
    return p;
  }
  afterEach(async () => {
    for (const p of profiles.splice(0)) await rm(p.dir, { recursive: true, force: true });
    for (const db of dbs.splice(0)) await dropDatabase(db.server, db.name);
  });

  for (const damage of ['a truncated snapshot.json', 'a verify that found a mismatch'] as const) {
    it(`after ${damage} in the latest incremental, the next run is a full and says why`, async () => {
      const p = await profile('brokenparent');
      await runSnapshot(p);
      const incr = await runSnapshot(p);
      expect(incr.record.kind).to.equal('incr');
      if (damage === 'a truncated snapshot.json') {
        await writeFile(join(incr.dir, 'snapshot.json'), (await readFile(join(incr.dir, 'snapshot.json'), 'utf8')).slice(0, 100));
      } else {
        const archive = join(incr.dir, 'repository-delta.tar.zst');
        const bytes = await readFile(archive);
        bytes[bytes.length >> 1]! ^= 0xff;
        await writeFile(archive, bytes);
        expect((await cli(['verify', p.manifest, incr.id])).code).to.equal(1);
      }
      await new Promise((r) => setTimeout(r, 1100));
      const next = await cli(['run', p.manifest]);
      expect(next.code, next.stderr).to.equal(0);
      const why = `the latest snapshot ${incr.id} cannot be built on (damaged: `;
      expect(next.stderr).to.contain(`(full: ${why}`);
      const id = await readlink(join(p.destination, 'latest'));
      const record = JSON.parse(await readFile(join(p.destination, id, 'snapshot.json'), 'utf8')) as SnapshotRecord;
      expect(record.kind).to.equal('full');
      expect(record.parent).to.equal(undefined);
      expect(record.reason).to.contain(why);
    });
  }

  it('two jobs at one destination: each chains on its own snapshots and restores its own files', async () => {
    const a = await profile('sharea');
    const b = await profile('shareb');
    const shared = join(a.dir, 'shared-backups');
    for (const [p, name] of [[a, 'job-a'], [b, 'job-b']] as const) {
      const text = await readFile(p.manifest, 'utf8');
      await writeFile(p.manifest, text.replace('name: incr-test', `name: ${name}`).replace(JSON.stringify(p.destination), JSON.stringify(shared)));
      p.destination = shared;
    }
    const fullA = await runSnapshot(a);
    const fullB = await runSnapshot(b);
    const incrA = await runSnapshot(a);
    expect(incrA.record).to.include({ kind: 'incr', parent: fullA.id, job: 'job-a' });
    const incrB = await runSnapshot(b);
    expect(incrB.record).to.include({ kind: 'incr', parent: fullB.id, job: 'job-b' });
    const target = join(b.dir, 'restored');
    const restored = await cli(['restore', b.manifest, 'latest', '--to', target, '--database', `${dbs[1]!.name}_r`]);
    try {
      expect(restored.code, restored.stderr).to.equal(0);
      expect(restored.stdout).to.contain(`restored ${incrB.id}`);
      expect(await fileHashes(join(target, 'repository'))).to.deep.equal(await fileHashes(b.profile.repositoryPath));
    } finally {
      await dropDatabase(dbs[1]!.server, `${dbs[1]!.name}_r`);
    }
  });
});
