/** The AiiDA 2.x repository: a disk-objectstore container with loose objects or packs + packs.idx. */
import { appendFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loosePath } from '../../incremental/layout.js';
import { sqlite } from '../../incremental/sqlite.js';
import { WRITES_IN_FLIGHT, forEachLimit, mkdirs, writeSmallFile } from './writer.js';
import type { RepositoryWriter } from './writer.js';

/** disk-objectstore's default, written to the container's config.json and used by looseWriter. */
const LOOSE_PREFIX_LEN = 2;

/** An empty container as disk-objectstore's init_container leaves it. */
export async function initContainer(container: string, containerId: string, packSizeTarget: number): Promise<void> {
  for (const sub of ['loose', 'packs', 'sandbox', 'duplicates']) await mkdir(join(container, sub), { recursive: true });
  const config = {
    container_version: 1,
    loose_prefix_len: LOOSE_PREFIX_LEN,
    pack_size_target: packSizeTarget,
    hash_type: 'sha256',
    container_id: containerId,
    compression_algorithm: 'zlib+1',
  };
  await writeFile(join(container, 'config.json'), JSON.stringify(config));
  await sqlite([join(container, 'packs.idx')], {
    input: `PRAGMA journal_mode=wal;
     CREATE TABLE db_object (id INTEGER NOT NULL, hashkey VARCHAR NOT NULL, compressed BOOLEAN NOT NULL,
       size INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, pack_id INTEGER NOT NULL, PRIMARY KEY (id));
     CREATE UNIQUE INDEX ix_db_object_hashkey ON db_object (hashkey);\n`,
  });
}

/** disk-objectstore loose objects: `loose/<key[:2]>/<key[2:]>`, uncompressed. */
export function looseWriter(container: string): RepositoryWriter {
  const layout = { kind: 'disk-objectstore', container, loosePrefixLength: LOOSE_PREFIX_LEN } as const;
  const prefixes = new Map<string, Promise<unknown>>();
  const prefixDir = (dir: string) => {
    if (!prefixes.has(dir)) prefixes.set(dir, mkdirs(dir));
    return prefixes.get(dir)!;
  };
  return {
    write: (nodes) =>
      forEachLimit(nodes.flatMap((n) => n.files), WRITES_IN_FLIGHT, async (f) => {
        const path = loosePath(layout, f.key);
        await prefixDir(dirname(path));
        await writeSmallFile(path, f.data);
      }),
  };
}

/** The pack that new objects go to: the highest-numbered one, appended at its end. */
async function currentPack(container: string): Promise<{ id: number; size: number }> {
  const ids = (await readdir(join(container, 'packs'))).filter((n) => /^\d+$/.test(n)).map(Number);
  const id = ids.length ? Math.max(...ids) : 0;
  const size = await stat(join(container, 'packs', String(id))).then((s) => s.size, () => 0);
  return { id, size };
}

/**
 * disk-objectstore packs: objects appended uncompressed, then indexed in packs.idx in one
 * SQLite transaction per batch; data lands in the pack before the index names it.
 */
export async function packWriter(container: string, packSizeTarget: number): Promise<RepositoryWriter> {
  let pack = await currentPack(container);
  return {
    async write(nodes) {
      const rows: string[] = [];
      let chunks: Buffer[] = [];
      const flush = async () => {
        if (chunks.length) await appendFile(join(container, 'packs', String(pack.id)), Buffer.concat(chunks));
        chunks = [];
      };
      for (const f of nodes.flatMap((n) => n.files)) {
        if (pack.size > 0 && pack.size + f.data.length > packSizeTarget) {
          await flush();
          pack = { id: pack.id + 1, size: 0 };
        }
        rows.push(`('${f.key}', 0, ${f.data.length}, ${pack.size}, ${f.data.length}, ${pack.id})`);
        chunks.push(f.data);
        pack.size += f.data.length;
      }
      await flush();
      if (rows.length) await sqlite([join(container, 'packs.idx')], { input: indexSql(rows) });
    },
  };
}

/**
 * One transaction of multi-row INSERTs. synchronous=OFF (this session only) skips the fsyncs that
 * dominate on a busy disk; the pack data is still written before the rows naming it.
 */
function indexSql(values: string[]): string {
  const statements: string[] = [];
  for (let at = 0; at < values.length; at += 500) {
    statements.push(`INSERT INTO db_object (hashkey, compressed, size, offset, length, pack_id) VALUES ${values.slice(at, at + 500).join(',')};`);
  }
  return `PRAGMA synchronous=OFF;\nBEGIN;\n${statements.join('\n')}\nCOMMIT;\n`;
}
