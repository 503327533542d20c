import { expect } from 'chai';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunEvent } from '../src/execute/events.js';
import { addNodes } from '../src/demo/profile/index.js';
import { connectTo, dropDatabase } from '../src/demo/cluster.js';
import { withDatabase } from './support/pg.js';
import { killLeftovers, spawnCli } from './support/procs.js';
import { cli, makeProfile } from './support/profile.js';
import { gatedTool } from './support/tools.js';
import { waitUntil } from './support/wait.js';

/** One call of the writer: its nodes were committed between `start` and `end` (ms since the epoch). */
interface Batch {
  start: number;
  end: number;
}

/**
 * SPEC's one inconsistency that must never happen: a node in the dump whose files are missing
 * from the repository copy. A writer adds nodes (files first, then the row, as AiiDA does)
 * for the whole length of a backup; the restored snapshot must still hold every node's files.
 *
 * The copy of 1000 nodes takes a fraction of a second, too short for a writer to land in by
 * chance: the copy tool waits at a gate until the writer has committed after the copy step
 * began, and the run's own events then show commits between the database snapshot and the end
 * of the copy.
 */
describe('consistency under concurrent writes', function () {
  this.timeout(300_000);

  for (const strategy of ['tar', 'rsync']) {
    it(`${strategy}: nodes committed between the database snapshot and the end of the copy leave every restored node with its files`, () =>
      withDatabase('consistency', async (db) => {
        const p = await makeProfile(db, { layout: 'aiida-1', nodes: 1000, extra: `repository: { strategy: ${strategy} }\ndatabase: { format: custom, compression: gzip }` });
        const restoredDb = `${db.name}_restored`;
        let writing = true;
        const batches: Batch[] = [];
        const writer = (async () => {
          while (writing) {
            const start = Date.now();
            await addNodes(p.profile, { server: db.server, database: db.name, count: 30 });
            batches.push({ start, end: Date.now() });
          }
        })();
        try {
          const gate = await gatedTool(p.dir, strategy);
          const run = spawnCli(['run', '--json', p.manifest], { cwd: p.dir, mark: p.dir, env: { PATH: gate.path } });
          try {
            // The copy step starts only once the database snapshot is exported.
            await run.waitFor(/"type":"step-start","step":"repository"/);
            const copyBegan = Date.now();
            await waitUntil('two writer commits after the copy step began', () => batches.filter((b) => b.start >= copyBegan).length >= 2);
          } finally {
            await gate.open();
          }
          const exited = await run.exited;
          writing = false;
          await writer;
          expect(exited.code, exited.stderr).to.equal(0);
          const events = exited.stdout.trim().split('\n').map((l) => JSON.parse(l) as RunEvent);
          const at = (type: RunEvent['type'], step: string) => Date.parse(events.find((e) => e.type === type && 'step' in e && e.step === step)!.at);
          const snapshotBegan = at('step-start', 'db-snapshot');
          const copyEnded = at('step-end', 'repository');
          const overlapping = batches.filter((b) => b.start >= snapshotBegan && b.end <= copyEnded);
          expect(overlapping.length, `writer commits inside [db-snapshot start, repository end] of ${batches.length}`).to.be.greaterThan(0);

          const target = join(p.dir, 'restored');
          const restore = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', restoredDb]);
          expect(restore.code, restore.stderr).to.equal(0);
          const client = await connectTo(db.server, restoredDb);
          const { rows } = await client.query<{ uuid: string }>('SELECT uuid::text FROM db_dbnode');
          await client.end();
          expect(rows.length).to.be.at.least(1000);
          const missing: string[] = [];
          for (const { uuid } of rows) {
            const folder = join(target, 'repository', 'repository', 'node', uuid.slice(0, 2), uuid.slice(2, 4), uuid.slice(4), 'path');
            const ok = await access(folder).then(() => readdir(folder).then((f) => f.length > 0), () => false);
            if (!ok) missing.push(uuid);
          }
          expect(missing, `${missing.length} node(s) without files`).to.deep.equal([]);
        } finally {
          writing = false;
          await writer.catch(() => undefined);
          await killLeftovers(p.dir);
          await dropDatabase(db.server, restoredDb);
          await p.cleanup();
        }
      }));
  }
});
