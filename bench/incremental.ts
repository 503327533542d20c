/**
 * The incremental benchmark: on ONE generated AiiDA profile per layout it measures, in one run
 * on the same data,
 *
 *   - the plain tools: a full `tar -cf - . | zstd -3 -T0`, and `rsync -a` with nothing to copy
 *     (after an initial rsync, which warms the cache);
 *   - backplan: a full `backplan run`, then `--changed` of the nodes change (1.x: half new, half
 *     with a rewritten file and a new mtime; 2.x: new nodes appended to the pack, as
 *     `verdi storage maintain` leaves them), then the incremental `backplan run`: its wall time,
 *     its repository step's time (from snapshot.json) and backplan's own peak RSS (VmHWM of the
 *     node process, polled from /proc; pg_dump, tar and zstd are children and not counted);
 *   - 2.x: the bytes the incremental adds to the destination for the repository (delta tar, pack
 *     tails, packs.idx delta) against the new objects' bytes, and against what
 *     `rsync -a --link-dest=<previous>` (what `verdi storage backup` runs) writes anew.
 *
 *   npx tsc -p . && node dist/bench/incremental.js [--nodes 100000] [--layout both] [--changed 0.01]
 *
 * Targets (issue 5): 1.x incremental(1%) ≤ 0.05× rsync no-op at 100k nodes; peak RSS < 200 MB
 * at 1M nodes (--nodes 1000000); 2.x delta ≤ 3× the new objects' bytes.
 * Uses DATABASE_URL / PGHOST… when set, else a throwaway cluster; needs pg_dump, tar, zstd, rsync.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { $ } from 'zx';
import { addNodes, generateProfile, touchNodes } from '../src/demo/profile/index.js';
import type { AiidaLayout, GeneratedProfile } from '../src/demo/profile/index.js';
import { acquireServer, createDatabase, dropDatabase } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { walkFiles } from '../src/record/checksums.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const RSS_POLL_MS = 50;

interface Options {
  nodes: number;
  changed: number;
  layouts: AiidaLayout[];
  work?: string;
  keep: boolean;
  /** tar and rsync on the same data; off for the 1M-node memory run, where they take an hour. */
  baselines: boolean;
}

const USAGE = `usage: node dist/bench/incremental.js [options]
  --nodes N        nodes in the generated profile (default 100000; 2 files of 200 B each)
  --changed F      fraction of nodes changed before the incremental (default 0.01)
  --layout L       aiida-1, disk-objectstore or both (default both)
  --work DIR       where profiles, backups and baseline outputs go (default: a temp dir)
  --keep           keep the work dir (the databases are dropped anyway)
  --no-baselines   skip tar and rsync (e.g. for the 1M-node peak-RSS run)`;

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '100000' },
      changed: { type: 'string', default: '0.01' },
      layout: { type: 'string', default: 'both' },
      work: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-baselines': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) usage('');
  const nodes = Number(values.nodes);
  const changed = Number(values.changed);
  if (!Number.isInteger(nodes) || nodes < 100) usage('--nodes must be a whole number of at least 100');
  if (!(changed > 0 && changed < 1)) usage('--changed must be a fraction between 0 and 1');
  const layouts: Record<string, AiidaLayout[]> = { both: ['aiida-1', 'disk-objectstore'], 'aiida-1': ['aiida-1'], 'disk-objectstore': ['disk-objectstore'] };
  if (!layouts[values.layout!]) usage('--layout must be aiida-1, disk-objectstore or both');
  return { nodes, changed, layouts: layouts[values.layout!]!, work: values.work, keep: values.keep!, baselines: !values['no-baselines'] };
}

function usage(message: string): never {
  process.stderr.write(`${message ? `${message}\n` : ''}${USAGE}\n`);
  process.exit(message ? 2 : 0);
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

interface RunMeasure {
  wallMs: number;
  /** VmHWM of the backplan process, KiB. */
  peakRssKiB: number;
  snapshot: { dir: string; record: SnapshotRecord };
}

/** A real `backplan run`, its wall time and the node process's peak RSS. */
function backplanRun(manifest: string, destination: string): Promise<RunMeasure> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [CLI, 'run', manifest], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
    let peak = 0;
    const poll = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8').then(
        (status) => (peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))),
        () => undefined,
      );
    }, RSS_POLL_MS);
    child.on('close', (code) => {
      clearInterval(poll);
      const wallMs = performance.now() - start;
      if (code !== 0) return reject(new Error(`backplan run exited with ${code}:\n${stderr}`));
      latestSnapshot(destination).then((snapshot) => resolve({ wallMs, peakRssKiB: peak, snapshot }), reject);
    });
  });
}

async function latestSnapshot(destination: string): Promise<{ dir: string; record: SnapshotRecord }> {
  const dir = join(destination, await readlink(join(destination, 'latest')));
  return { dir, record: JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8')) as SnapshotRecord };
}

/** Bytes of the files rsync --link-dest wrote anew (not hard links into the previous copy). */
async function unlinkedBytes(root: string): Promise<number> {
  let bytes = 0;
  for await (const path of walkFiles(root)) {
    const st = await lstat(path);
    if (st.nlink === 1) bytes += st.size;
  }
  return bytes;
}

/** Total size of the packs: new objects appended to them show up as growth. */
async function packBytes(profile: GeneratedProfile): Promise<number> {
  const dir = join(profile.repositoryPath, 'container', 'packs');
  let total = 0;
  for await (const path of walkFiles(dir)) total += (await stat(path)).size;
  return total;
}

interface LayoutResult {
  layout: AiidaLayout;
  nodes: number;
  changedNodes: number;
  files: number;
  repoBytes: number;
  tarZstdMs: number;
  rsyncInitialMs: number;
  rsyncNoopMs: number;
  fullRun: RunMeasure;
  incrRun: RunMeasure;
  incrStepMs: number;
  /** Repository artefacts of the incremental snapshot. */
  deltaBytes: number;
  newObjectBytes?: number;
  linkDestBytes?: number;
}

async function benchLayout(server: PgServer, layout: AiidaLayout, o: Options, work: string): Promise<LayoutResult> {
  const dir = await mkdtemp(join(work, `${layout}-`));
  const database = await createDatabase(server, 'bench_incr');
  try {
    const v2 = layout === 'disk-objectstore';
    log(`${layout}: generating ${o.nodes} nodes in ${dir}`);
    const profile = await generateProfile({ dir, server, database, layout, nodes: o.nodes, packed: v2, log: (l) => log(`${layout}: ${l}`) });
    const destination = join(dir, 'backups');
    const manifest = join(dir, 'manifest.yaml');
    await writeFile(
      manifest,
      [
        'version: 1',
        'name: bench-incremental',
        `profile: { aiida: { config: ${JSON.stringify(profile.configPath)}, profile: ${JSON.stringify(profile.profileName)} } }`,
        `destination: ${JSON.stringify(destination)}`,
        'repository: { strategy: incremental, incremental: { fullEvery: 30d, margin: 5m } }',
        'retention: { keepLast: 10 }',
      ].join('\n') + '\n',
    );
    const repo = profile.repositoryPath;
    const mirror = join(dir, 'rsync-mirror');
    const repoBytes = Number((await $`du -sb ${repo}`.quiet()).stdout.split('\t')[0]);
    const files = o.nodes * profile.filesPerNode;

    let [tarZstdMs, rsyncInitialMs, rsyncNoopMs] = [NaN, NaN, NaN];
    if (o.baselines) {
      log(`${layout}: baselines`);
      tarZstdMs = await timed(() => $`tar -cf - -C ${repo} . | zstd -3 -T0 -q > ${join(dir, 'baseline.tar.zst')}`.quiet());
      rsyncInitialMs = await timed(() => $`rsync -a ${repo}/ ${mirror}/`.quiet());
      rsyncNoopMs = await timed(() => $`rsync -a ${repo}/ ${mirror}/`.quiet());
    }

    log(`${layout}: backplan full run`);
    const fullRun = await backplanRun(manifest, destination);

    const changedNodes = Math.max(2, Math.round(o.nodes * o.changed));
    const packsBefore = v2 ? await packBytes(profile) : 0;
    log(`${layout}: changing ${changedNodes} nodes`);
    if (v2) await addNodes(profile, { server, database, count: changedNodes, packed: true });
    else {
      await addNodes(profile, { server, database, count: Math.floor(changedNodes / 2) });
      await touchNodes(profile, { server, database, count: Math.ceil(changedNodes / 2) });
    }
    // Snapshot ids have one-second resolution.
    await new Promise((r) => setTimeout(r, 1100));
    log(`${layout}: backplan incremental run`);
    const incrRun = await backplanRun(manifest, destination);
    const record = incrRun.snapshot.record;
    if (record.kind !== 'incr') throw new Error(`expected an incremental snapshot, got ${record.id}`);
    const incrStepMs = record.steps.find((s) => s.id === 'repository')!.durationMs;
    const deltaBytes = record.artefacts.filter((a) => a.path.startsWith('repository') || a.path.startsWith('packs')).reduce((n, a) => n + a.bytes, 0);

    const result: LayoutResult = { layout, nodes: o.nodes, changedNodes, files, repoBytes, tarZstdMs, rsyncInitialMs, rsyncNoopMs, fullRun, incrRun, incrStepMs, deltaBytes };
    if (v2) result.newObjectBytes = (await packBytes(profile)) - packsBefore;
    if (v2 && o.baselines) {
      const linked = join(dir, 'rsync-link-dest');
      log(`${layout}: rsync --link-dest`);
      await $`rsync -a --link-dest=${mirror} ${repo}/ ${linked}/`.quiet();
      result.linkDestBytes = await unlinkedBytes(linked);
    }
    return result;
  } finally {
    await dropDatabase(server, database).catch(() => undefined);
    // rm -rf: many times faster than fs.rm on hundreds of thousands of files.
    if (!o.keep) await $`rm -rf ${dir}`.quiet();
  }
}

const s = (ms: number) => (Number.isNaN(ms) ? 'skipped' : `${(ms / 1000).toFixed(2)} s`);
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const ratio = (a: number, b: number) => (Number.isNaN(a / b) ? 'skipped' : `${(a / b).toFixed(3)}×`);

function table(results: LayoutResult[]): string {
  const rows: [string, ...string[]][] = [
    ['nodes (files, size)', ...results.map((r) => `${r.nodes} (${r.files} files, ${mib(r.repoBytes)})`)],
    ['changed nodes', ...results.map((r) => `${r.changedNodes}`)],
    ['tar | zstd -3 (full)', ...results.map((r) => s(r.tarZstdMs))],
    ['rsync -a, initial', ...results.map((r) => s(r.rsyncInitialMs))],
    ['rsync -a, nothing to copy', ...results.map((r) => s(r.rsyncNoopMs))],
    ['backplan run, full (repo + dump)', ...results.map((r) => s(r.fullRun.wallMs))],
    ['backplan run, incremental (whole run)', ...results.map((r) => s(r.incrRun.wallMs))],
    ['  its repository step', ...results.map((r) => s(r.incrStepMs))],
    ['incremental step / rsync no-op', ...results.map((r) => ratio(r.incrStepMs, r.rsyncNoopMs))],
    ['incremental run / rsync no-op', ...results.map((r) => ratio(r.incrRun.wallMs, r.rsyncNoopMs))],
    ['incremental step / tar | zstd', ...results.map((r) => ratio(r.incrStepMs, r.tarZstdMs))],
    ['backplan peak RSS (full / incr)', ...results.map((r) => `${(r.fullRun.peakRssKiB / 1024).toFixed(0)} / ${(r.incrRun.peakRssKiB / 1024).toFixed(0)} MB`)],
    ['incremental repository artefacts', ...results.map((r) => kib(r.deltaBytes))],
    ['new objects (2.x)', ...results.map((r) => (r.newObjectBytes === undefined ? '' : kib(r.newObjectBytes)))],
    ['  artefacts / new objects', ...results.map((r) => (r.newObjectBytes === undefined ? '' : ratio(r.deltaBytes, r.newObjectBytes)))],
    ['rsync --link-dest writes anew (2.x)', ...results.map((r) => (r.linkDestBytes === undefined ? '' : kib(r.linkDestBytes)))],
    ['  link-dest / new objects', ...results.map((r) => (r.linkDestBytes === undefined || !r.newObjectBytes ? '' : ratio(r.linkDestBytes, r.newObjectBytes)))],
  ];
  const header: [string, ...string[]] = ['', ...results.map((r) => r.layout)];
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n') + '\n';
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const work = o.work ?? (await mkdtemp(join(os.tmpdir(), 'backplan-bench-incr-')));
  const server = await acquireServer();
  const results: LayoutResult[] = [];
  try {
    for (const layout of o.layouts) results.push(await benchLayout(server, layout, o, work));
  } finally {
    await server.stop();
    if (!o.keep && !o.work) await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`backplan incremental benchmark: ${o.nodes} nodes, ${o.changed * 100}% changed, ${os.cpus().length} cores, node ${process.version}\n\n`);
  process.stdout.write(table(results));
}

await main();
