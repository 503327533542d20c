/**
 * Named profile shapes, generated through the demo's public generator (generateProfile,
 * addNodes): the same data for backplan and for the plain tools.
 *
 *   repo-heavy  every node has 2 files of 200 B: many small files, a database of the same nodes
 *   db-heavy    a large database (nodes and links), 1 node in 100 with 2 files of 200 B
 *   small       every node has 2 files of 2.5 KiB, about 30 MB in all at the default size
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { $ } from 'zx';
import { addNodes, generateProfile, touchNodes } from '../../src/demo/profile/index.js';
import type { AiidaLayout, GeneratedProfile } from '../../src/demo/profile/index.js';
import { connectTo } from '../../src/demo/cluster.js';
import type { Harness } from './harness.js';
import { filesUnder } from './plain.js';
import { formatBytes } from '../../src/util/bytes.js';
import { secs } from './report.js';

export const SHAPE_NAMES = ['repo-heavy', 'db-heavy', 'small'] as const;
export type ShapeName = (typeof SHAPE_NAMES)[number];

export interface Shape {
  name: ShapeName;
  /** Nodes in the database. */
  nodes: number;
  /** Of those, the nodes with files. */
  fileNodes: number;
  filesPerNode: number;
  fileBytes: number;
}

const SHAPES: Record<ShapeName, { nodes: number; fileShare: number; fileBytes: number }> = {
  'repo-heavy': { nodes: 100_000, fileShare: 1, fileBytes: 200 },
  'db-heavy': { nodes: 1_000_000, fileShare: 0.01, fileBytes: 200 },
  small: { nodes: 5_000, fileShare: 1, fileBytes: 2_500 },
};

/** The shape `name` with `nodes` database nodes (default: the shape's own). */
export function shape(name: ShapeName, nodes?: number): Shape {
  const s = SHAPES[name];
  const n = nodes ?? s.nodes;
  return { name, nodes: n, fileNodes: Math.max(1, Math.round(n * s.fileShare)), filesPerNode: 2, fileBytes: s.fileBytes };
}

export interface BenchProfile {
  shape: Shape;
  profile: GeneratedProfile;
  database: string;
  /** The repository folder the plain tools copy. */
  repo: string;
  /** 2.x: objects go to packs, not loose files. */
  packed: boolean;
  /** Regular files in the repository and their bytes (directories not counted). */
  files: number;
  repoBytes: number;
  dbBytes: number;
  generateMs: number;
  /** For the plain pg tools: the server's PG* variables and PGDATABASE. */
  pgEnv: NodeJS.ProcessEnv;
}

/** "repo-heavy (100,000 nodes, 100,000 with 2 files of 200 B; 200,000 files of 38.1 MiB, database 50.2 MiB; generated in 20.1 s)" */
export function describe(p: BenchProfile): string {
  const s = p.shape;
  const n = (x: number) => x.toLocaleString('en');
  return `${s.name} (${n(s.nodes)} nodes, ${n(s.fileNodes)} with ${s.filesPerNode} files of ${n(s.fileBytes)} B; ${n(p.files)} files of ${formatBytes(p.repoBytes)}, database ${formatBytes(p.dbBytes)}; generated in ${secs(p.generateMs)} s)`;
}

/**
 * Generates the shape in `<work>/<name>`: the nodes without files loaded in bulk first, then
 * those with files; then VACUUM, CHECKPOINT and sync, so no timed run pays for settling them.
 */
export async function makeProfile(h: Harness, s: Shape, o: { layout?: AiidaLayout; packed?: boolean; dir?: string } = {}): Promise<BenchProfile> {
  const dir = o.dir ?? join(h.work, s.name);
  const database = await h.newDatabase(`bench_${s.name}`);
  const start = performance.now();
  const common = { dir, server: h.server, database, layout: o.layout ?? 'aiida-1', packed: o.packed ?? false, log: (l: string) => h.log(`  ${l}`) };
  const bare = s.nodes - s.fileNodes;
  h.log(`${s.name}: generating ${s.nodes} nodes (${s.fileNodes} with files) in ${dir}`);
  let profile = await generateProfile({ ...common, nodes: bare > 0 ? bare : s.fileNodes, filesPerNode: bare > 0 ? 0 : s.filesPerNode, fileBytes: s.fileBytes });
  if (bare > 0) {
    profile = { ...profile, filesPerNode: s.filesPerNode, fileBytes: s.fileBytes };
    await addNodes(profile, { server: h.server, database, count: s.fileNodes, packed: common.packed });
  }
  const client = await connectTo(h.server, database);
  let dbBytes: number;
  try {
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
    const { rows } = await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n');
    dbBytes = Number(rows[0]!.n);
  } finally {
    await client.end();
  }
  await $`sync`;
  const repo = profile.repositoryPath;
  const { files, bytes: repoBytes } = await filesUnder(repo);
  return {
    shape: s,
    profile,
    database,
    repo,
    packed: common.packed,
    files,
    repoBytes,
    dbBytes,
    generateMs: performance.now() - start,
    pgEnv: { ...process.env, ...h.server.env, PGDATABASE: database },
  };
}

/**
 * Changes `count` nodes as AiiDA would. 1.x: half of them new, half with file-0.txt rewritten
 * and a new mtime; 2.x: new nodes, their objects appended to the packs if the profile is packed
 * (as `verdi storage maintain` leaves them). Then waits a second: snapshot ids have one-second
 * resolution, and the next run must see the change after its parent's watermark.
 */
export async function changeNodes(h: Harness, p: BenchProfile, count: number): Promise<void> {
  const o = { server: h.server, database: p.database };
  if (p.profile.layout === 'disk-objectstore') await addNodes(p.profile, { ...o, count, packed: p.packed });
  else {
    await addNodes(p.profile, { ...o, count: Math.floor(count / 2) });
    // touchNodes picks the oldest nodes: in a shape with file-less nodes, those (made first).
    const touched = p.shape.fileNodes < p.shape.nodes ? { ...p.profile, filesPerNode: 0 } : p.profile;
    await touchNodes(touched, { ...o, count: Math.ceil(count / 2) });
  }
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

/**
 * Overwrites every file of the repository with random bytes of the same size: data zstd cannot
 * shrink (the generator's text compresses about 30-fold). The database is left as it is.
 */
export async function randomizeFiles(h: Harness, p: BenchProfile): Promise<void> {
  h.log(`${p.shape.name}: overwriting the ${p.files} repository files with random bytes`);
  const list = join(h.work, `${p.shape.name}-files`);
  await $`find ${p.repo} -type f -print0 > ${list}`.quiet();
  for (const path of (await readFile(list, 'utf8')).split('\0').filter(Boolean)) {
    await writeFile(path, randomBytes((await stat(path)).size));
  }
  await $`sync`;
}
