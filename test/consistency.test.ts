import { expect } from 'chai';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { addNodes } from '../src/demo/profile/index.js';
import { connectTo, dropDatabase } from '../src/demo/cluster.js';
import { withDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';

/**
 * SPEC's one inconsistency that must never happen: a node in the dump whose files are missing
 * from the repository copy. A writer adds nodes (files first, then the row, as AiiDA does)
 * for the whole length of a backup; the restored snapshot must still hold every node's files.
 */
describe('consistency under concurrent writes', function () {
  this.timeout(300_000);

  for (const strategy of ['tar', 'rsync']) {
    it(`${strategy}: every node in the restored database has its files in the restored repository`, () =>
      withDatabase('consistency', async (db) => {
        const p = await makeProfile(db, { layout: 'aiida-1', nodes: 1000, extra: `repository: { strategy: ${strategy} }\ndatabase: { format: custom, compression: gzip }` });
        const restoredDb = `${db.name}_restored`;
        try {
          let writing = true;
          let added = 0;
          const writer = (async () => {
            while (writing) {
              await addNodes(p.profile, { server: db.server, database: db.name, count: 30 });
              added += 30;
            }
          })();
          const run = await cli(['run', p.manifest]);
          writing = false;
          await writer;
          expect(run.code, run.stderr).to.equal(0);
          expect(added, 'the writer ran during the backup').to.be.greaterThan(0);

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
          await dropDatabase(db.server, restoredDb);
          await p.cleanup();
        }
      }));
  }
});
