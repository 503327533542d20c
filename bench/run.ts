/**
 * The run benchmark: on ONE generated AiiDA 1.x-like profile it times
 *
 *   1. backplan's `repository` step (repo-tar), read from snapshot.json of a real `backplan run`
 *      whose database is tiny, so the step runs alone, against the plain
 *      `tar -cf - -C REPO . | zstd -3 -T0 > f` on the same folder            (target ratio ≤ 1.15);
 *   2. a whole tar-strategy `backplan run` (the real CLI, custom dump + zstd) against the plain
 *      tools one after the other: `pg_dump -Fc -Z0 | zstd -3 -T0 > f`, then `tar | zstd`
 *                                                                            (target ratio < 1.0);
 *   3. the wall time of `node dist/src/cli/main.js demo`, the README's first command.
 *
 * Caches are warm: one untimed round runs first, then --repeats rounds, each running every
 * measurement once (interleaved, so that drifting background load hits all of them alike); the
 * table shows medians. Beside wall time it shows the CPU time (user + sys) of the processes each
 * measurement started, which a busy machine disturbs far less than wall time. (The PostgreSQL
 * server's own CPU is not in it, for the plain dump and for backplan alike.)
 *
 * The profile has --nodes nodes with files (default 100k × 2 files, as in REFERENCE.md) in a
 * database of --db-nodes nodes (default 10 × --nodes, the others without files), so that the
 * dump and the copy take comparable time. --profile adds an anatomy of the repo-tar step: its
 * pipeline run through backplan's own subprocess layer with and without parts of it.
 *
 *   npx tsc -p . && node dist/bench/run.js [--nodes 100000] [--db-nodes N] [--repeats 3] [--profile]
 *
 * Uses DATABASE_URL / PGHOST… when set, else a throwaway cluster; needs pg_dump, tar and zstd.
 * Prints the table and writes it to bench/results/run-<date>.md.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { $ } from 'zx';
import { addNodes, generateProfile } from '../src/demo/aiida-profile.js';
import { tarCounter } from '../src/record/tar-count.js';
import { acquireServer, connectTo, createDatabase, dropDatabase } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { hashingFileSink } from '../src/execute/hashing-sink.js';
import { pipeline } from '../src/execute/subprocess.js';

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node dist/bench/run.js [options]
  --nodes N           nodes with files in the repository (default 100000)
  --db-nodes N        nodes in the database, the extra ones without files (default 10 × --nodes)
  --files-per-node N  files per node with files (default 2)
  --file-bytes N      bytes per file (default 200)
  --repeats N         timed rounds after the warm-up round (default 3)
  --no-demo           skip timing \`backplan demo\`
  --profile           also time the parts of the repo-tar step (adds 3 tar runs per round)
  --work DIR          where the profile, the backups and the baseline outputs go (default: a temp dir)
  --out DIR           where the results table goes (default bench/results)
  --keep              keep the work dir (the databases are dropped anyway)
  --cli PATH          the backplan CLI to measure (default dist/src/cli/main.js of this checkout)
  --compare PATH      a second backplan CLI (e.g. a build of a candidate fix in another folder):
                      its runs B′ and E are interleaved with the first's, on the same profile`;

interface Options {
  nodes: number;
  dbNodes: number;
  filesPerNode: number;
  fileBytes: number;
  repeats: number;
  demo: boolean;
  profile: boolean;
  work?: string;
  out: string;
  keep: boolean;
  cli: string;
  compare?: string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
let CLI = DEFAULT_CLI;

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      'db-nodes': { type: 'string' },
      'files-per-node': { type: 'string' },
      'file-bytes': { type: 'string' },
      repeats: { type: 'string' },
      'no-demo': { type: 'boolean' },
      profile: { type: 'boolean' },
      work: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
      cli: { type: 'string' },
      compare: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min}, got ${text}`);
    return n;
  };
  const nodes = int('nodes', values.nodes, 100_000, 1);
  return {
    nodes,
    dbNodes: int('db-nodes', values['db-nodes'], 10 * nodes, nodes),
    filesPerNode: int('files-per-node', values['files-per-node'], 2, 1),
    fileBytes: int('file-bytes', values['file-bytes'], 200, 1),
    repeats: int('repeats', values.repeats, 3, 1),
    demo: !values['no-demo'],
    profile: values.profile ?? false,
    work: values.work,
    out: resolve(values.out ?? join(ROOT, 'bench', 'results')),
    keep: values.keep ?? false,
    cli: resolve(values.cli ?? CLI),
    compare: values.compare === undefined ? undefined : resolve(values.compare),
  };
}

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const secs = (ms: number) => (ms / 1000).toFixed(2);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** One line of output of a command, or '?' when it is missing. */
function probe(argv: string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0]!;
  } catch {
    return '?';
  }
}

const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' / ');

/** Machine-wide CPU busy share between two /proc/stat readings (everyone's load, not only ours). */
async function cpuTimes(): Promise<{ busy: number; total: number } | undefined> {
  const text = await readFile('/proc/stat', 'utf8').catch(() => undefined);
  const f = text?.split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number);
  if (!f || f.length < 5) return undefined;
  const idle = f[3]! + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const TICK_MS = 1000 / (Number(probe(['getconf', 'CLK_TCK'])) || 100);

/**
 * CPU (user + sys) used so far by this process and by every descendant it has waited for
 * (cutime + cstime in /proc/self/stat: tar, zstd, pg_dump and a child node CLI with its own
 * children all land there once reaped). Undefined where /proc is missing.
 */
function cpuSoFarMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    const own = process.cpuUsage();
    return (Number(fields[13]) + Number(fields[14])) * TICK_MS + (own.user + own.system) / 1000;
  } catch {
    return undefined;
  }
}

interface Sample {
  wallMs: number;
  /** NaN where it cannot be known. */
  cpuMs: number;
}

async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const c0 = cpuSoFarMs();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const c1 = cpuSoFarMs();
  return { wallMs, cpuMs: c0 === undefined || c1 === undefined ? NaN : c1 - c0 };
}

// ---------------------------------------------------------------------------------------------
// backplan through its real CLI

interface StepRecord {
  id: string;
  kind: string;
  status: string;
  durationMs: number;
  bytes?: number;
}

interface Snapshot {
  steps: StepRecord[];
  artefacts: { path: string; bytes: number }[];
  repository?: { source: string; files?: number; bytes?: number };
  database?: { serverVersion: string; pgDumpVersion: string; rowCounts: Record<string, number> };
}

interface RunMeasure extends Sample {
  /** From spawning the CLI to its run-start event: node start, module load, validate, resolve, plan. */
  startupMs: number;
  /** Every step's duration from the --json step-end events (snapshot.json misses those after finalize). */
  steps: Record<string, number>;
  snapshot: Snapshot;
}

/** `backplan run --json MANIFEST` into an empty destination; fails loudly on a non-zero exit. */
async function backplanRun(manifest: string, destination: string, env: NodeJS.ProcessEnv, cli = CLI): Promise<RunMeasure> {
  await rm(destination, { recursive: true, force: true });
  const spawnedAt = Date.now();
  let result: { code: number | null; output: string; stdout: string } | undefined;
  const sample = await measure(async () => {
    result = await spawnCollect(process.execPath, [cli, 'run', '--json', manifest], env);
  });
  const { code, output, stdout } = result!;
  if (code !== 0) throw new Error(`backplan run ${manifest} exited with ${code}:\n${output.slice(-4000)}`);
  const steps: Record<string, number> = {};
  let startupMs = NaN;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as { type: string; at: string; step?: string; durationMs?: number };
    if (event.type === 'run-start') startupMs = Date.parse(event.at) - spawnedAt;
    if (event.type === 'step-end' && event.step) steps[event.step] = event.durationMs ?? NaN;
  }
  const snapshot = JSON.parse(await readFile(join(destination, 'latest', 'snapshot.json'), 'utf8')) as Snapshot;
  return { ...sample, startupMs, steps, snapshot };
}

function spawnCollect(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-64_000);
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      keep(d);
    });
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output, stdout }));
  });
}

function tarManifest(name: string, profile: string, destination: string): string {
  return `# yaml-language-server: $schema=../schemas/manifest.schema.json
# Written by bench/run.ts.
version: 1
name: ${name}
profile:
${profile}
destination: ${JSON.stringify(destination)}
database:
  format: custom
  compression: zstd
repository:
  strategy: tar
  tar: { compression: zstd, level: 3 }
retention:
  keepLast: 3
`;
}

/** The repository step's pipeline exactly as `backplan plan --format json` says it would run it. */
async function plannedRepoStages(manifest: string, env: NodeJS.ProcessEnv): Promise<string[][]> {
  const { code, stdout, output } = await spawnCollect(process.execPath, [CLI, 'plan', '--format', 'json', manifest], env);
  if (code !== 0) throw new Error(`backplan plan ${manifest} exited with ${code}:\n${output.slice(-4000)}`);
  const plan = JSON.parse(stdout) as { steps: { id: string; options?: { stages?: string[][] } }[] };
  const stages = plan.steps.find((s) => s.id === 'repository')?.options?.stages;
  if (!stages) throw new Error('the plan has no repository step with stages (is the strategy tar?)');
  return stages;
}

// ---------------------------------------------------------------------------------------------
// Main

interface Samples {
  plainTar: Sample[];
  repoStep: number[];
  repoOnly: Sample[];
  plainDump: Sample[];
  plainSequential: Sample[];
  plainConcurrent: Sample[];
  full: Sample[];
  fullSteps: Record<string, number[]>;
  repoOnlySteps: Record<string, number[]>;
  demo: Sample[];
  /** The --compare build's runs. */
  cmp: { repoStep: number[]; repoOnly: Sample[]; full: Sample[]; fullSteps: Record<string, number[]> };
  anatomy: Record<string, Sample[]>;
  roundLoad: string[];
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  CLI = o.cli;
  for (const cli of [CLI, o.compare]) if (cli && !existsSync(cli)) usage(`${cli} is missing: build first (npx tsc -p .)`);
  const startedAt = new Date();
  const work = o.work ? resolve(o.work) : await mkdtemp(join(os.tmpdir(), 'backplan-bench-run-'));
  await mkdir(work, { recursive: true });
  const loadAtStart = loadavg();
  log(`work dir ${work}; load average ${loadAtStart}`);

  const server = await acquireServer();
  const databases: string[] = [];
  try {
    const database = await createDatabase(server, 'bench_run');
    databases.push(database);
    // A database with nothing in it: the repo-only run's dump is over in a blink, so its
    // repository step runs alone, as the plain tar | zstd does.
    const tiny = await createDatabase(server, 'bench_run_tiny');
    databases.push(tiny);

    // ---- the profile: database-only nodes loaded in bulk first, then the nodes with files
    const profileDir = join(work, 'profile');
    await rm(profileDir, { recursive: true, force: true });
    const extra = o.dbNodes - o.nodes;
    const genStart = performance.now();
    log(`generating ${extra} database-only nodes`);
    const profile = await generateProfile({ dir: profileDir, server, database, layout: 'aiida-1', nodes: extra, filesPerNode: 0, log: (l) => log(`  ${l}`) });
    log(`adding ${o.nodes} nodes × ${o.filesPerNode} files of ${o.fileBytes} bytes`);
    await addNodes({ ...profile, filesPerNode: o.filesPerNode, fileBytes: o.fileBytes }, { server, database, count: o.nodes });
    const settle = await connectTo(server, database);
    try {
      // Hint bits set and statistics fresh now, not inside the first timed dump.
      await settle.query('VACUUM (ANALYZE)');
      await settle.query('CHECKPOINT');
    } finally {
      await settle.end();
    }
    // A real repository is old news: flushed, not dirty in the page cache.
    await $`sync`;
    const generateMs = performance.now() - genStart;
    log(`profile ready in ${secs(generateMs)} s`);

    const repo = profile.repositoryPath;
    const dbSize = await databaseSize(server, database);
    const env = { ...process.env, ...(server.password !== undefined ? { PGPASSWORD: server.password } : {}) };
    const pgEnv = { ...process.env, ...server.env, PGDATABASE: database };

    // ---- manifests
    const fullDest = join(work, 'backup-full');
    const repoDest = join(work, 'backup-repo-only');
    const fullManifest = join(work, 'full.yaml');
    const repoManifest = join(work, 'repo-only.yaml');
    await writeFile(
      fullManifest,
      tarManifest('bench-full', `  aiida:\n    config: ${JSON.stringify(profile.configPath)}\n    profile: ${JSON.stringify(profile.profileName)}`, fullDest),
    );
    await writeFile(
      repoManifest,
      tarManifest(
        'bench-repo-only',
        [
          '  explicit:',
          `    config: [${JSON.stringify(profile.configPath)}]`,
          `    repository: ${JSON.stringify(repo)}`,
          '    layout: aiida-1',
          `    database: { host: ${JSON.stringify(server.host)}, port: ${server.port}, name: ${JSON.stringify(tiny)}, user: ${JSON.stringify(server.user)} }`,
        ].join('\n'),
        repoDest,
      ),
    );

    // ---- the plain tools (a shell is fine here: they are the baseline)
    const plainOut = join(work, 'plain');
    await mkdir(plainOut, { recursive: true });
    const tarOut = join(plainOut, 'repository.tar.zst');
    const dumpOut = join(plainOut, 'database.dump.zst');
    const quiet = $({ quiet: true, env: pgEnv });
    const plainTar = () => quiet`tar -cf - -C ${repo} . | zstd -3 -T0 -q > ${tarOut}`;
    const plainDump = () => quiet`pg_dump -Fc -Z0 | zstd -3 -T0 -q > ${dumpOut}`;
    // Both at once: what running them side by side buys on this machine, without backplan.
    const plainBoth = () => quiet`pg_dump -Fc -Z0 | zstd -3 -T0 -q > ${dumpOut} & tar -cf - -C ${repo} . | zstd -3 -T0 -q > ${tarOut}; wait $!`;

    const anatomy = o.profile ? await repoTarAnatomy(repoManifest, env, work) : [];

    const s: Samples = {
      plainTar: [],
      repoStep: [],
      repoOnly: [],
      plainDump: [],
      plainSequential: [],
      plainConcurrent: [],
      full: [],
      fullSteps: {},
      repoOnlySteps: {},
      demo: [],
      cmp: { repoStep: [], repoOnly: [], full: [], fullSteps: {} },
      anatomy: {},
      roundLoad: [],
    };
    let lastFull: Snapshot | undefined;
    const sizes = { plainTar: 0, plainDump: 0 };
    const cpuAtStart = await cpuTimes();

    for (let round = 0; round <= o.repeats; round++) {
      const warm = round === 0;
      const label = warm ? 'warm-up round' : `round ${round}/${o.repeats}`;
      s.roundLoad.push(`${label} ${loadavg()}`);
      log(`${label} (load average ${loadavg()})`);
      const show = (x: Sample) => `${secs(x.wallMs)} s (cpu ${secs(x.cpuMs)} s)`;

      await rm(tarOut, { force: true });
      const tar = await measure(plainTar);
      sizes.plainTar = (await stat(tarOut)).size;
      log(`  plain tar | zstd                       ${show(tar)}`);

      const repoOnly = await backplanRun(repoManifest, repoDest, env);
      const step = repoOnly.snapshot.steps.find((x) => x.id === 'repository')!;
      log(`  backplan repository step               ${secs(step.durationMs)} s (whole run ${show(repoOnly)})`);
      const cmpRepoOnly = o.compare ? await backplanRun(repoManifest, repoDest, env, o.compare) : undefined;
      const cmpStep = cmpRepoOnly?.snapshot.steps.find((x) => x.id === 'repository');
      if (cmpRepoOnly) log(`  --compare: repository step             ${secs(cmpStep!.durationMs)} s (whole run ${show(cmpRepoOnly)})`);

      await rm(tarOut, { force: true });
      await rm(dumpOut, { force: true });
      const dump = await measure(plainDump);
      sizes.plainDump = (await stat(dumpOut)).size;
      const seqTar = await measure(plainTar);
      const sequential = { wallMs: dump.wallMs + seqTar.wallMs, cpuMs: dump.cpuMs + seqTar.cpuMs };
      log(`  plain pg_dump | zstd, then tar | zstd  ${show(dump)} + ${show(seqTar)}`);

      await rm(tarOut, { force: true });
      await rm(dumpOut, { force: true });
      const both = await measure(plainBoth);
      log(`  plain pg_dump | zstd ∥ tar | zstd      ${show(both)}`);

      const full = await backplanRun(fullManifest, fullDest, env);
      log(`  backplan run (whole)                   ${show(full)}`);
      const cmpFull = o.compare ? await backplanRun(fullManifest, fullDest, env, o.compare) : undefined;
      if (cmpFull) log(`  --compare: backplan run (whole)        ${show(cmpFull)}`);
      lastFull = full.snapshot;

      let demo: Sample | undefined;
      if (o.demo) {
        demo = await measure(async () => {
          const { code, output } = await spawnCollect(process.execPath, [CLI, 'demo'], process.env);
          if (code !== 0) throw new Error(`backplan demo exited with ${code}:\n${output.slice(-4000)}`);
        });
        log(`  backplan demo                          ${show(demo)}`);
      }

      const parts: [string, Sample][] = [];
      for (const [name, fn] of anatomy) {
        const x = await measure(fn);
        parts.push([name, x]);
        log(`  anatomy: ${name.padEnd(60)} ${show(x)}`);
      }

      if (warm) continue;
      s.plainTar.push(tar);
      s.repoStep.push(step.durationMs);
      s.repoOnly.push(repoOnly);
      s.plainDump.push(dump);
      s.plainSequential.push(sequential);
      s.plainConcurrent.push(both);
      s.full.push(full);
      for (const [id, ms] of Object.entries(full.steps)) (s.fullSteps[id] ??= []).push(ms);
      (s.fullSteps[STARTUP] ??= []).push(full.startupMs);
      for (const [id, ms] of Object.entries(repoOnly.steps)) (s.repoOnlySteps[id] ??= []).push(ms);
      (s.repoOnlySteps[STARTUP] ??= []).push(repoOnly.startupMs);
      if (demo) s.demo.push(demo);
      if (cmpRepoOnly && cmpFull) {
        s.cmp.repoStep.push(cmpStep!.durationMs);
        s.cmp.repoOnly.push(cmpRepoOnly);
        s.cmp.full.push(cmpFull);
        for (const [id, ms] of Object.entries(cmpFull.steps)) (s.cmp.fullSteps[id] ??= []).push(ms);
        (s.cmp.fullSteps[STARTUP] ??= []).push(cmpFull.startupMs);
      }
      for (const [name, x] of parts) (s.anatomy[name] ??= []).push(x);
    }

    const cpuAtEnd = await cpuTimes();
    const busy = cpuAtStart && cpuAtEnd ? (100 * (cpuAtEnd.busy - cpuAtStart.busy)) / (cpuAtEnd.total - cpuAtStart.total) : undefined;

    const report = renderReport({ o, startedAt, work, server, s, full: lastFull!, sizes, dbSize, generateMs, loadAtStart, loadAtEnd: loadavg(), busy });
    console.log(report);
    await mkdir(o.out, { recursive: true });
    const stamp = startedAt.toISOString().slice(0, 16).replace(/:/g, '');
    const file = join(o.out, `run-${stamp}Z.md`);
    await writeFile(file, report);
    log(`written to ${file}`);
  } finally {
    for (const db of databases) await dropDatabase(server, db).catch(() => undefined);
    await server.stop();
    if (!o.keep && !o.work) await rm(work, { recursive: true, force: true });
  }
}

const STARTUP = '(startup: CLI spawn → run-start event)';

async function databaseSize(server: PgServer, database: string): Promise<number> {
  const client = await connectTo(server, database);
  try {
    const { rows } = await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// --profile: the repo-tar step taken apart

/**
 * The repository step's pipeline as planned, run through backplan's own subprocess layer into
 * its hashing sink: as the step runs it (tar's stream routed through node and counted), with the
 * tap passing the bytes on without counting them (the cost of the hop through node), and with
 * the stages joined by the kernel (neither).
 */
async function repoTarAnatomy(manifest: string, env: NodeJS.ProcessEnv, work: string): Promise<[string, () => Promise<unknown>][]> {
  const dir = join(work, 'anatomy');
  await mkdir(dir, { recursive: true });
  const stages = await plannedRepoStages(manifest, env);
  const viaSink = async (onChunk?: (chunk: Buffer) => void) => {
    const sink = hashingFileSink(join(dir, 'out.tar.zst'));
    await pipeline(stages, { output: sink.stream, okExitCodes: [[0, 1]], ...(onChunk ? { tap: { after: 0, onChunk } } : {}) });
    await sink.done();
  };
  const counted = async () => {
    const counter = tarCounter();
    await viaSink((chunk) => counter.push(chunk));
    return counter.result();
  };
  const render = stages.map((a) => a.filter((x) => !x.startsWith('--directory=')).join(' ')).join(' | ');
  return [
    [`as the step runs it: ${render}, tar's stream counted through the tap → hashing sink`, counted],
    ['the same, the tap passing the bytes on without counting them', () => viaSink(() => undefined)],
    ['the same, tar and zstd joined by the kernel (no tap)', () => viaSink()],
  ];
}

// ---------------------------------------------------------------------------------------------
// Report

interface ReportInput {
  o: Options;
  startedAt: Date;
  work: string;
  server: PgServer;
  s: Samples;
  full: Snapshot;
  sizes: { plainTar: number; plainDump: number };
  dbSize: number;
  generateMs: number;
  loadAtStart: string;
  loadAtEnd: string;
  busy: number | undefined;
}

function renderReport(r: ReportInput): string {
  const { s, o } = r;
  const wall = (xs: Sample[]) => xs.map((x) => x.wallMs);
  const cpu = (xs: Sample[]) => xs.map((x) => x.cpuMs);
  const runs = (xs: number[]) => xs.map(secs).join(', ');
  const ratio = (a: number[], b: number[]) => median(a) / median(b);
  const verdict = (value: number, ok: boolean) => `**${value.toFixed(2)}** ${ok ? '✅' : '❌'}`;
  const row = (what: string, xs: Sample[] | number[], ratioText = '', target = '', cpuRatio = '') => {
    const w = typeof xs[0] === 'number' ? (xs as number[]) : wall(xs as Sample[]);
    const c = typeof xs[0] === 'number' ? undefined : cpu(xs as Sample[]);
    return `| ${what} | ${secs(median(w))} | ${runs(w)} | ${c ? secs(median(c)) : '–'} | ${ratioText} | ${cpuRatio} | ${target} |`;
  };
  const tarRatio = ratio(s.repoStep, wall(s.plainTar));
  const runRatio = ratio(wall(s.full), wall(s.plainSequential));
  const artefact = (path: string) => r.full.artefacts.find((a) => a.path === path)?.bytes ?? 0;
  const dumpArtefact = r.full.artefacts.find((a) => a.path.startsWith('database.'));
  const n = (x: number | undefined) => (x ?? 0).toLocaleString('en');

  const lines = [
    `# backplan run benchmark — ${r.startedAt.toISOString()}`,
    '',
    `Profile: AiiDA 1.x layout, ${n(o.nodes)} nodes × ${o.filesPerNode} files of ${o.fileBytes} B ` +
      `(${n(r.full.repository?.files)} files, ${mib(r.full.repository?.bytes ?? 0)}) in a database of ${n(o.dbNodes)} nodes ` +
      `(${mib(r.dbSize)} on the server; db_dbnode ${n(r.full.database?.rowCounts.db_dbnode)} rows, db_dblink ${n(r.full.database?.rowCounts.db_dblink)}). ` +
      `Generated in ${secs(r.generateMs)} s. Warm caches: one untimed round, then the median of ${o.repeats} interleaved rounds. ` +
      'Seconds. "cpu" is user + sys of every process the measurement started (not the PostgreSQL server\'s).' +
      (r.o.cli === DEFAULT_CLI ? '' : ` backplan measured: ${r.o.cli}.`),
    '',
    '| measurement | wall (median) | wall runs | cpu (median) | wall ratio | cpu ratio | target |',
    '| --- | ---: | --- | ---: | ---: | ---: | --- |',
    row('A. plain `tar -cf - -C REPO . \\| zstd -3 -T0 > f`', s.plainTar),
    row('B. backplan `repository` step (repo-tar): its durationMs in snapshot.json, run beside an empty database', s.repoStep, verdict(tarRatio, tarRatio <= 1.15), 'B / A ≤ 1.15'),
    row('B′. that whole `backplan run` (CLI start to exit)', s.repoOnly, ratio(wall(s.repoOnly), wall(s.plainTar)).toFixed(2), '(information)', ratio(cpu(s.repoOnly), cpu(s.plainTar)).toFixed(2)),
    row('C. plain `pg_dump -Fc -Z0 \\| zstd -3 -T0 > f`', s.plainDump),
    row('D. plain C, then A (sequential)', s.plainSequential),
    row('D′. plain C and A at the same time (`&`): what concurrency alone buys here', s.plainConcurrent, ratio(wall(s.plainConcurrent), wall(s.plainSequential)).toFixed(2), 'D′ / D (information)'),
    row('E. `backplan run`, tar strategy, custom dump + zstd (CLI start to exit)', s.full, verdict(runRatio, runRatio < 1.0), 'E / D < 1.0', ratio(cpu(s.full), cpu(s.plainSequential)).toFixed(2)),
    ...(s.demo.length ? [row('F. `node dist/src/cli/main.js demo` (whole command)', s.demo)] : []),
    ...(s.cmp.full.length
      ? [
          row(`B*. B with --compare ${o.compare}`, s.cmp.repoStep, verdict(ratio(s.cmp.repoStep, wall(s.plainTar)), ratio(s.cmp.repoStep, wall(s.plainTar)) <= 1.15), 'B* / A ≤ 1.15'),
          row('B′*. B′ with --compare', s.cmp.repoOnly, ratio(wall(s.cmp.repoOnly), wall(s.plainTar)).toFixed(2), '(information)', ratio(cpu(s.cmp.repoOnly), cpu(s.plainTar)).toFixed(2)),
          row('E*. E with --compare', s.cmp.full, verdict(ratio(wall(s.cmp.full), wall(s.plainSequential)), ratio(wall(s.cmp.full), wall(s.plainSequential)) < 1.0), 'E* / D < 1.0', ratio(cpu(s.cmp.full), cpu(s.plainSequential)).toFixed(2)),
        ]
      : []),
    '',
    'Steps of both backplan runs (median of the timed runs, from the `--json` step-end events; db-dump and repository overlap):',
    '',
    `| step | E: median s | E: runs s | B′: median s | B′: runs s |${s.cmp.full.length ? ' E*: median s | E*: runs s |' : ''}`,
    `| --- | ---: | --- | ---: | --- |${s.cmp.full.length ? ' ---: | --- |' : ''}`,
    ...Object.keys({ ...s.fullSteps, ...s.repoOnlySteps }).map((id) => {
      const cell = (xs: number[] | undefined) => (xs?.length ? `${secs(median(xs))} | ${runs(xs)}` : ' | ');
      return `| ${id} | ${cell(s.fullSteps[id])} | ${cell(s.repoOnlySteps[id])} |${s.cmp.full.length ? ` ${cell(s.cmp.fullSteps[id])} |` : ''}`;
    }),
    '',
  ];
  const anatomy = Object.entries(s.anatomy);
  if (anatomy.length) {
    lines.push(
      'Anatomy of the repo-tar step (`--profile`; in-process through backplan\'s `pipeline` and `hashingFileSink`, same rounds):',
      '',
      '| part | wall (median) | wall runs | cpu (median) | cpu vs A |',
      '| --- | ---: | --- | ---: | ---: |',
      ...anatomy.map(
        ([name, xs]) =>
          `| ${name.replace(/\|/g, '\\|')} | ${secs(median(wall(xs)))} | ${runs(wall(xs))} | ${secs(median(cpu(xs)))} | ${ratio(cpu(xs), cpu(s.plainTar)).toFixed(2)} |`,
      ),
      '',
    );
  }
  lines.push(
    'Sizes: ' +
      [
        `plain tar.zst ${mib(r.sizes.plainTar)}`,
        `backplan repository.tar.zst ${mib(artefact('repository.tar.zst'))}`,
        `plain dump.zst ${mib(r.sizes.plainDump)}`,
        `backplan ${dumpArtefact?.path ?? 'database.*'} ${mib(dumpArtefact?.bytes ?? 0)}`,
      ].join(' · ') +
      '.',
    '',
    '## Machine conditions',
    '',
    `- CPU: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length} (nproc ${probe(['nproc'])}); RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${os.release()}`,
    `- Work dir ${r.work} on ${probe(['findmnt', '-no', 'FSTYPE,OPTIONS', '-T', r.work])} (${probe(['sh', '-c', `df -h --output=source,size,avail ${JSON.stringify(r.work)} | tail -1`]).replace(/\s+/g, ' ')})`,
    `- Load average (1/5/15 min): at start ${r.loadAtStart}; at end ${r.loadAtEnd}; by round: ${s.roundLoad.join('; ')}`,
    `- Machine-wide CPU busy during the rounds (every process on the machine, /proc/stat): ${r.busy === undefined ? '?' : `${r.busy.toFixed(0)} %`}`,
    `- PostgreSQL ${r.full.database?.serverVersion ?? '?'} (${r.server.dir ? 'throwaway cluster, fsync=off' : `server at ${r.server.host}:${r.server.port}`}); ` +
      `${probe(['pg_dump', '--version'])}; ${probe(['zstd', '--version']).replace(/\*/g, '').trim()}; ${probe(['tar', '--version'])}; node ${process.version}`,
    `- \`backplan demo\` ran ${process.env.DATABASE_URL || process.env.PGHOST || process.env.PGPORT ? 'against the server the environment names' : 'with its own throwaway cluster (initdb + pg_ctl each time)'}`,
    '',
  );
  return lines.join('\n');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
