/**
 * An AiiDA-like profile for `backplan demo`, the tests and the benchmarks: a config.json, a
 * psql_dos-like database and a repository in either AiiDA 1.x or 2.x (disk-objectstore) layout.
 * Nodes are made in batches (bounded memory, up to ~1M nodes); a node's files are on disk before
 * its row is committed, as AiiDA does, so a profile is consistent at every moment.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { BackplanError } from '../../errors.js';
import { connectTo } from '../cluster.js';
import type { PgServer } from '../cluster.js';
import { writeConfig } from './config.js';
import { fillerPool, makeNodes } from './data.js';
import { initNodeRepository, nodeFolderWriter, rewriteFirstFiles } from './repo-aiida1.js';
import { initContainer, looseWriter, packWriter } from './repo-objectstore.js';
import { insertNodes, seedRows } from './rows.js';
import type { RowContext } from './rows.js';
import { CONSTRAINTS_DDL, tablesDdl } from './schema.js';
import type { AddNodesOptions, AiidaLayout, GenerateOptions, GeneratedProfile, TouchNodesOptions } from './types.js';
import type { RepositoryWriter } from './writer.js';

export type { AddNodesOptions, AiidaLayout, GenerateOptions, GeneratedProfile, TouchNodesOptions } from './types.js';

const BATCH = 3000; // a multiple of 3, so that whole (input, calculation, output) triples share a batch

export async function generateProfile(o: GenerateOptions): Promise<GeneratedProfile> {
  const log = o.log ?? (() => {});
  const p: GeneratedProfile = {
    configPath: join(o.dir, '.aiida', 'config.json'),
    repositoryPath: join(o.dir, 'repository'),
    profileName: o.profileName ?? 'demo',
    nodes: 0,
    layout: o.layout,
    seed: o.seed ?? 1,
    filesPerNode: o.filesPerNode ?? 2,
    fileBytes: o.fileBytes ?? 200,
    packSizeTarget: o.packSizeTarget ?? 4 * 1024 ** 3,
  };
  // disk-objectstore writes a uuid4().hex container_id; AiiDA stores the same in db_dbsetting.
  const containerId = o.layout === 'disk-objectstore' ? randomUUID().replace(/-/g, '') : undefined;
  if (containerId) await initContainer(join(p.repositoryPath, 'container'), containerId, p.packSizeTarget);
  else await initNodeRepository(p.repositoryPath);
  await writeConfig(o, p);
  await withClient(o.server, o.database, async (client) => {
    await client.query(tablesDdl(o.layout));
    await seedRows(client, p.seed, containerId);
    const writer = await repositoryWriter(p, o.layout, o.packed ?? false);
    await emitNodes(p, writer, { client, layout: o.layout, end: o.nodes, historyDays: o.historyDays ?? 30 }, 0, o.nodes, log);
    // Built once over the loaded rows, much faster than maintained row by row during the load.
    await client.query(CONSTRAINTS_DDL);
    await client.query('ANALYZE');
  });
  p.nodes = o.nodes;
  log(`profile ${p.profileName}: ${p.nodes} nodes, ${p.nodes * p.filesPerNode} files (${o.layout}${o.packed ? ', packed' : ''})`);
  return p;
}

/** New nodes and their files, created now (ctime = mtime = the database's now()). */
export async function addNodes(p: GeneratedProfile, o: AddNodesOptions): Promise<void> {
  const layout = o.layout ?? p.layout;
  await withClient(o.server, o.database, async (client) => {
    // The database, not p.nodes, says which ordinals are taken: p may be rebuilt by a caller.
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM db_dbnode');
    const start = rows[0]!.n;
    const writer = await repositoryWriter(p, layout, o.packed ?? false);
    await emitNodes(p, writer, { client, layout, end: start + o.count, historyDays: 0 }, start, o.count, () => {});
    p.nodes = start + o.count;
  });
}

/**
 * Sets mtime = now() (and bumps extras.touches) on the `count` least recently modified nodes;
 * for 1.x it first rewrites their file-0.txt, as AiiDA writes files before committing the row.
 * 2.x repositories are immutable once a node is stored, so there only the row changes.
 * Returns the touched uuids.
 */
export async function touchNodes(p: GeneratedProfile, o: TouchNodesOptions): Promise<string[]> {
  return withClient(o.server, o.database, async (client) => {
    const { rows } = await client.query<{ uuid: string; touches: number }>(
      `SELECT uuid::text, coalesce((extras->>'touches')::int, 0) AS touches FROM db_dbnode ORDER BY mtime, id LIMIT $1`,
      [o.count],
    );
    if (p.layout === 'aiida-1' && p.filesPerNode > 0) await rewriteFirstFiles(p, rows);
    await client.query(
      `UPDATE db_dbnode SET mtime = now(), extras = extras || jsonb_build_object('touches', coalesce((extras->>'touches')::int, 0) + 1)
       WHERE uuid = ANY($1::uuid[])`,
      [rows.map((r) => r.uuid)],
    );
    return rows.map((r) => r.uuid);
  });
}

async function repositoryWriter(p: GeneratedProfile, layout: AiidaLayout, packed: boolean): Promise<RepositoryWriter> {
  if (layout === 'aiida-1') return nodeFolderWriter(p.repositoryPath);
  const container = join(p.repositoryPath, 'container');
  return packed ? packWriter(container, p.packSizeTarget) : looseWriter(container);
}

/**
 * Files of batch k are written while the rows of batch k-1 are inserted; batch k's rows start
 * only once its files are on disk.
 */
async function emitNodes(p: GeneratedProfile, writer: RepositoryWriter, ctx: RowContext, start: number, count: number, log: (l: string) => void): Promise<void> {
  const pool = fillerPool(p.seed, p.fileBytes);
  let inserting: Promise<void> = Promise.resolve();
  for (let at = start; at < start + count; at += BATCH) {
    const nodes = makeNodes(p, pool, at, Math.min(BATCH, start + count - at));
    await writer.write(nodes);
    await inserting;
    inserting = insertNodes(ctx, nodes);
    // Awaited in the next round; this stops a failure from being reported as unhandled meanwhile.
    inserting.catch(() => {});
    if ((at - start) % (BATCH * 10) === 0) log(`nodes ${at - start + nodes.length}/${count}`);
  }
  await inserting;
}

async function withClient<T>(server: PgServer, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectTo(server, database);
  try {
    return await fn(client);
  } catch (e) {
    if (e instanceof BackplanError) throw e;
    throw new BackplanError('DATABASE', `generating the demo profile in ${database} failed: ${(e as Error).message}`, { cause: e });
  } finally {
    await client.end();
  }
}
