/** The AiiDA 2.x repository: a disk-objectstore container with loose objects or packs + packs.idx. */
import { spawn } from 'node:child_process';
import { appendFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplanError } from '../../errors.js';
import { WRITES_IN_FLIGHT, forEachLimit, mkdirs, writeSmallFile } from './writer.js';
import type { RepositoryWriter } from './writer.js';

/** An empty container as disk-objectstore's init_container leaves it. */
export async function initContainer(container: string, containerId: string, packSizeTarget: number): Promise<void> {
  for (const sub of ['loose', 'packs', 'sandbox', 'duplicates']) await mkdir(join(container, sub), { recursive: true });
  const config = {
    container_version: 1,
    loose_prefix_len: 2,
    pack_size_target: packSizeTarget,
    hash_type: 'sha256',
    container_id: containerId,
    compression_algorithm: 'zlib+1',
  };
  await writeFile(join(container, 'config.json'), JSON.stringify(config));
  await sqlite(
    join(container, 'packs.idx'),
    `PRAGMA journal_mode=wal;
     CREATE TABLE db_object (id INTEGER NOT NULL, hashkey VARCHAR NOT NULL, compressed BOOLEAN NOT NULL,
       size INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, pack_id INTEGER NOT NULL, PRIMARY KEY (id));
     CREATE UNIQUE INDEX ix_db_object_hashkey ON db_object (hashkey);\n`,
  );
}

/** disk-objectstore loose objects: `loose/<key[:2]>/<key[2:]>`, uncompressed. */
export function looseWriter(container: string): RepositoryWriter {
  const prefixes = new Map<string, Promise<unknown>>();
  const prefixDir = (key: string) => {
    const dir = join(container, 'loose', key.slice(0, 2));
    if (!prefixes.has(dir)) prefixes.set(dir, mkdirs(dir));
    return prefixes.get(dir)!.then(() => dir);
  };
  return {
    write: (nodes) =>
      forEachLimit(
        nodes.flatMap((n) => n.files),
        WRITES_IN_FLIGHT,
        async (f) => writeSmallFile(join(await prefixDir(f.key), f.key.slice(2)), f.data),
      ),
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
      if (rows.length) await sqlite(join(container, 'packs.idx'), indexSql(rows));
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

/** Node 20 has no SQLite binding: SQL goes to the sqlite3 CLI on stdin; -bail stops at the first error. */
function sqlite(dbPath: string, sql: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sqlite3', ['-bail', dbPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new BackplanError('COMMAND_FAILED', `cannot run sqlite3: ${e.message}`, { command: `sqlite3 ${dbPath}`, cause: e })));
    child.on('close', (code) => {
      if (code === 0) return resolve(stdout);
      reject(new BackplanError('COMMAND_FAILED', `sqlite3 ${dbPath} exited with code ${code}: ${stderr.trim()}`, { command: `sqlite3 ${dbPath}`, stderrTail: stderr }));
    });
    child.stdin.on('error', () => {}); // an early exit surfaces through 'close' with its stderr
    child.stdin.end(sql);
  });
}
