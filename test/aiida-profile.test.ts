import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { addNodes, generateProfile, touchNodes } from '../src/demo/profile/index.js';
import type { AiidaLayout, GeneratedProfile } from '../src/demo/profile/index.js';
import { connectTo } from '../src/demo/cluster.js';
import { useDatabase, withDatabase } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';

const NODES = 200;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function query<T extends pg.QueryResultRow>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = await connectTo(db.server, db.name);
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function count(db: TestDatabase, table: string): Promise<number> {
  return (await query<{ n: number }>(db, `SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
}

/** Links of (input → calculation → output) triples among nodes 0..n-1. */
function expectedLinks(n: number): number {
  let links = 0;
  for (let i = 0; i + 1 < n; i++) if (i % 3 !== 2) links++;
  return links;
}

/** Each object named in repository_metadata, read back from loose/ or through packs.idx. */
async function readObjects(p: GeneratedProfile, db: TestDatabase): Promise<Map<string, Buffer | undefined>> {
  const container = join(p.repositoryPath, 'container');
  const rows = await query<{ key: string }>(db, `SELECT o.value->>'k' AS key FROM db_dbnode, jsonb_each(repository_metadata->'o') AS o`);
  const { stdout } = await promisify(execFile)('sqlite3', ['-separator', ' ', join(container, 'packs.idx'), 'SELECT hashkey, pack_id, offset, length FROM db_object']);
  const index = new Map(stdout.trim().split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).map(Number)]));
  const objects = new Map<string, Buffer | undefined>();
  for (const { key } of rows) {
    const loose = join(container, 'loose', key.slice(0, 2), key.slice(2));
    const packed = index.get(key);
    if (existsSync(loose)) objects.set(key, await readFile(loose));
    else if (packed) objects.set(key, await readSlice(join(container, 'packs', String(packed[0])), packed[1]!, packed[2]!));
    else objects.set(key, undefined);
  }
  return objects;
}

async function readSlice(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file);
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

async function expectAllObjectsPresent(p: GeneratedProfile, db: TestDatabase, expected: number): Promise<void> {
  const objects = await readObjects(p, db);
  expect(objects.size).to.equal(expected);
  for (const [key, data] of objects) {
    expect(data, `object ${key}`).to.not.equal(undefined);
    expect(sha256(data!), `content of ${key}`).to.equal(key);
  }
}

function nodeFolder(p: GeneratedProfile, uuid: string): string {
  return join(p.repositoryPath, 'repository', 'node', uuid.slice(0, 2), uuid.slice(2, 4), uuid.slice(4), 'path');
}

const variants: { title: string; layout: AiidaLayout; packed?: boolean; packSizeTarget?: number }[] = [
  { title: 'aiida-1', layout: 'aiida-1' },
  { title: 'disk-objectstore, loose', layout: 'disk-objectstore' },
  { title: 'disk-objectstore, packed', layout: 'disk-objectstore', packed: true, packSizeTarget: 16 * 1024 },
];

describe('demo/profile', () => {
  for (const v of variants) {
    describe(v.title, () => {
      const db = useDatabase('profile');
      let dir: string;
      let p: GeneratedProfile;

      before(async () => {
        dir = await mkdtemp(join(tmpdir(), 'backplan-profile-'));
        const options = { dir, server: db.server, database: db.name, layout: v.layout, nodes: NODES, profileName: 'project-one' };
        p = await generateProfile({ ...options, packed: v.packed, packSizeTarget: v.packSizeTarget });
      });

      after(async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      it('fills the psql_dos tables', async () => {
        expect(p).to.include({ nodes: NODES, profileName: 'project-one', layout: v.layout });
        expect(await count(db, 'db_dbnode')).to.equal(NODES);
        expect(await count(db, 'db_dblink')).to.equal(expectedLinks(NODES));
        expect(await count(db, 'db_dbgroup_dbnodes')).to.equal(Math.ceil((NODES - 1) / 3));
        expect(await count(db, 'db_dbuser')).to.equal(1);
        const [times] = await query<{ old: boolean; future: boolean }>(
          db,
          `SELECT min(ctime) < now() - interval '29 days' AS old, max(mtime) > now() AS future FROM db_dbnode`,
        );
        expect(times).to.deep.equal({ old: true, future: false });
      });

      it('writes a mode 0600 config.json naming the database and the repository', async () => {
        expect(p.configPath).to.equal(join(dir, '.aiida', 'config.json'));
        expect((await stat(p.configPath)).mode & 0o777).to.equal(0o600);
        const config = JSON.parse(await readFile(p.configPath, 'utf8'));
        expect(config.default_profile).to.equal('project-one');
        const profile = config.profiles['project-one'];
        if (v.layout === 'aiida-1') {
          expect(config.CONFIG_VERSION.CURRENT).to.equal(5);
          expect(profile).to.include({ AIIDADB_NAME: db.name, AIIDADB_PORT: db.server.port, AIIDADB_REPOSITORY_URI: `file://${p.repositoryPath}` });
        } else {
          expect(config.CONFIG_VERSION.CURRENT).to.equal(9);
          expect(profile.storage.backend).to.equal('core.psql_dos');
          expect(profile.storage.config).to.include({ database_name: db.name, database_port: db.server.port, repository_uri: `file://${p.repositoryPath}` });
        }
      });

      if (v.layout === 'aiida-1') {
        it('has a 1.x folder with the files of every node, and no repository_metadata column', async () => {
          const nodes = await query<{ uuid: string }>(db, 'SELECT uuid::text FROM db_dbnode');
          for (const { uuid } of nodes) expect((await readdir(nodeFolder(p, uuid))).sort()).to.deep.equal(['file-0.txt', 'file-1.txt']);
          const columns = await query(db, `SELECT 1 FROM information_schema.columns WHERE table_name = 'db_dbnode' AND column_name = 'repository_metadata'`);
          expect(columns).to.have.length(0);
        });
      } else {
        it('stores every object that repository_metadata names', async () => {
          await expectAllObjectsPresent(p, db, NODES * 2);
          const container = join(p.repositoryPath, 'container');
          const config = JSON.parse(await readFile(join(container, 'config.json'), 'utf8'));
          expect(config).to.include({ hash_type: 'sha256', compression_algorithm: 'zlib+1', loose_prefix_len: 2 });
          const [setting] = await query<{ val: string }>(db, `SELECT val FROM db_dbsetting WHERE key = 'repository|uuid'`);
          expect(setting!.val).to.equal(config.container_id);
          const packs = (await readdir(join(container, 'packs'))).sort((a, b) => Number(a) - Number(b));
          if (v.packed) {
            expect(packs.length).to.be.greaterThan(3); // 80 kB of objects, 16 kB packs
            expect((await readdir(join(container, 'loose'))).length).to.equal(0);
          } else {
            expect(packs).to.deep.equal([]);
          }
        });
      }

      it('addNodes adds nodes, links and files', async () => {
        const [{ now }] = (await query<{ now: Date }>(db, 'SELECT now()')) as [{ now: Date }];
        await addNodes(p, { server: db.server, database: db.name, count: 30, packed: v.packed });
        expect(p.nodes).to.equal(NODES + 30);
        expect(await count(db, 'db_dbnode')).to.equal(NODES + 30);
        const fresh = await query<{ uuid: string }>(db, 'SELECT uuid::text FROM db_dbnode WHERE ctime >= $1', [now]);
        expect(fresh).to.have.length(30);
        if (v.layout === 'aiida-1') {
          for (const { uuid } of fresh) expect(await readdir(nodeFolder(p, uuid))).to.have.length(2);
        } else {
          await expectAllObjectsPresent(p, db, (NODES + 30) * 2);
        }
      });

      it('touchNodes moves mtime of the stalest nodes to now', async () => {
        const stalest = await query<{ uuid: string }>(db, 'SELECT uuid::text FROM db_dbnode ORDER BY mtime, id LIMIT 5');
        const before = v.layout === 'aiida-1' ? await readFile(join(nodeFolder(p, stalest[0]!.uuid), 'file-0.txt'), 'utf8') : '';
        const touched = await touchNodes(p, { server: db.server, database: db.name, count: 5 });
        expect(touched).to.deep.equal(stalest.map((r) => r.uuid));
        const rows = await query<{ recent: boolean; touches: string }>(
          db,
          `SELECT mtime > now() - interval '1 minute' AS recent, extras->>'touches' AS touches FROM db_dbnode WHERE uuid = ANY($1::uuid[])`,
          [touched],
        );
        expect(rows).to.deep.equal(Array(5).fill({ recent: true, touches: '1' }));
        expect(await count(db, 'db_dbnode')).to.equal(NODES + 30);
        if (v.layout === 'aiida-1') {
          const after = await readFile(join(nodeFolder(p, touched[0]!), 'file-0.txt'), 'utf8');
          expect(after).to.not.equal(before);
          expect(after).to.contain(touched[0]);
        }
      });
    });
  }

  describe('determinism', () => {
    async function fingerprint(seed: number): Promise<string[]> {
      return withDatabase('profile_seed', async (db) => {
        const dir = await mkdtemp(join(tmpdir(), 'backplan-profile-'));
        try {
          await generateProfile({ dir, server: db.server, database: db.name, layout: 'disk-objectstore', nodes: 12, seed });
          const rows = await query<{ uuid: string; meta: unknown }>(db, 'SELECT uuid::text, repository_metadata AS meta FROM db_dbnode ORDER BY id');
          return rows.map((r) => `${r.uuid} ${JSON.stringify(r.meta)}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    }

    it('makes the same uuids and objects from the same seed, and others from another', async () => {
      const [a, b, c] = [await fingerprint(7), await fingerprint(7), await fingerprint(8)];
      expect(a).to.deep.equal(b);
      expect(new Set(a).size).to.equal(12);
      expect(c.filter((x) => a.includes(x))).to.deep.equal([]);
    });
  });
});
