/**
 * The backup benchmark, per shape, on the same generated data:
 *
 *   - backplan's `repository` step (repo-tar; its durationMs in snapshot.json, from a run beside
 *     an empty database) against `tar -C repo -cf - . | zstd -3 -T0 > f` then `sync f`
 *     (backplan fsyncs its artefacts), alone and beside a plain dump of the same empty database:
 *     where pg_dump's start is slow (0.3-0.5 s on a VM with dear syscalls) the step is not alone;
 *   - a whole tar-strategy `backplan run` (CLI start to exit) against the strongest baseline a
 *     user could script: `pg_dump -Fc -Z0 | zstd` and `tar | zstd` side by side, then `sync` —
 *     the longer of the two as measured concurrently, not their sum; and, for context, against
 *     that plus 0.3 s (node's start, the plan, snapshot.json).
 *
 * With `--data random` the repository files hold random bytes instead (incompressible).
 *
 *   npm run bench:backup -- [--shape repo-heavy|db-heavy|small|all] [--nodes N] [--repeats 3] [--data text|random]
 */
import { join } from 'node:path';
import { $ } from 'zx';
import { parseOptions, usage } from './lib/args.js';
import { backplanRun, stepMs, writeManifest } from './lib/backplan.js';
import { main, withHarness } from './lib/harness.js';
import type { Harness } from './lib/harness.js';
import { plainTools, toolVersions } from './lib/plain.js';
import { conditions, mdTable, publish, ratioTable, rowsFor, secs } from './lib/report.js';
import type { RatioRow } from './lib/report.js';
import { describe, makeProfile, randomizeFiles, shape } from './lib/shapes.js';
import type { Shape } from './lib/shapes.js';
import { concurrently, median, rounds, timeMs } from './lib/timing.js';

const SPEC = {
  job: 'backup',
  defaults: { shape: 'all', repeats: 3, warmup: 1 },
  extra: { data: { type: 'string' } },
  usage: '  --data D       text (the generator\'s, compressible; default) or random (incompressible) repository files',
} as const;
const SLACK_MS = 300;

interface ShapeResult {
  rows: RatioRow[];
  parts: string[];
  label: string;
}

async function benchShape(h: Harness, s: Shape, emptyDb: string, o: { repeats: number; warmup: number; random: boolean }): Promise<ShapeResult> {
  const p = await makeProfile(h, s);
  if (o.random) await randomizeFiles(h, p);
  const label = `${describe(p)}${o.random ? '; files overwritten with random bytes' : ''}`;
  const dir = join(h.work, s.name);
  const full = { manifest: join(dir, 'full.yaml'), destination: join(dir, 'backup-full') };
  const repoOnly = { manifest: join(dir, 'repo-only.yaml'), destination: join(dir, 'backup-repo-only') };
  await writeManifest(full.manifest, { name: 'bench-full', destination: full.destination, profile: p, strategy: 'tar' });
  const server = h.server;
  const database = { name: emptyDb, host: server.host, port: server.port, user: server.user };
  await writeManifest(repoOnly.manifest, { name: 'bench-repo-only', destination: repoOnly.destination, profile: p, strategy: 'tar', database });
  const plain = plainTools(p.pgEnv);
  const plainEmpty = plainTools({ ...p.pgEnv, PGDATABASE: emptyDb });
  const emptyDumpOut = join(dir, 'plain-empty.dump.zst');
  const tarOut = join(dir, 'plain-repository.tar.zst');
  const dumpOut = join(dir, 'plain-database.dump.zst');
  const fresh = (...paths: string[]) => $`rm -rf ${paths}`.quiet();
  /** The plain repository copy as backplan's step does it: archived, compressed, synced. */
  const plainCopy = async () => (await plain.tarZstd(p.repo, tarOut), await plain.sync(tarOut));
  const run = async (m: typeof full) => (await fresh(m.destination), backplanRun(m.manifest, m.destination, h.env));

  h.log(`${s.name}: ${label}`);
  const r = await rounds({ ...o, log: (l) => h.log(`${s.name}: ${l}`) }, [
    async () => (await fresh(tarOut), { plainTar: await timeMs(plainCopy) }),
    async () => {
      // backplan's repository step shares the cores with the empty database's dump: so does this.
      await fresh(tarOut, emptyDumpOut);
      const parts = { emptyDump: () => plainEmpty.dumpZstd(emptyDumpOut), plainTarBeside: plainCopy };
      const figures = await concurrently('plainBesideEmpty', parts);
      return { plainTarBeside: figures.plainTarBeside! };
    },
    async () => {
      const x = await run(repoOnly);
      return { repoStep: stepMs(x.record, 'repository'), repoRun: x.wallMs };
    },
    async () => {
      await fresh(tarOut, dumpOut);
      const parts = { plainDump: () => plain.dumpZstd(dumpOut), plainCopy: () => plain.tarZstd(p.repo, tarOut) };
      return concurrently('plainBoth', parts, () => plain.sync(tarOut, dumpOut));
    },
    async () => {
      const x = await run(full);
      return { fullRun: x.wallMs, fullDumpStep: stepMs(x.record, 'db-dump'), fullRepoStep: stepMs(x.record, 'repository') };
    },
  ]);
  const TAR = '`tar -C repo -cf - . | zstd -3 -T0 > f; sync f`';
  const BOTH = '`pg_dump -Fc -Z0 | zstd -3 -T0 > d` ∥ `tar | zstd`, then `sync d f`';
  const row = rowsFor(o.random ? `${s.name}, random` : s.name);
  const both = r.plainBoth!;
  return {
    label,
    rows: [
      row('`repository` step (repo-tar), beside an empty database', TAR, r.repoStep!, r.plainTar!),
      row('the same', `${TAR}, beside \`pg_dump | zstd\` of the same empty database`, r.repoStep!, r.plainTarBeside!),
      row('that whole `backplan run` (CLI start to exit)', TAR, r.repoRun!, r.plainTar!),
      row('whole `backplan run`, tar strategy (CLI start to exit)', `${BOTH} (the longer of the two)`, r.fullRun!, both),
      row('the same', `the longer of the two + ${SLACK_MS / 1000} s`, r.fullRun!, both.map((ms) => ms + SLACK_MS)),
    ],
    parts: [o.random ? `${s.name}, random` : s.name, ...[r.plainDump!, r.plainCopy!, r.fullDumpStep!, r.fullRepoStep!].map((ms) => secs(median(ms)))],
  };
}

main(async () => {
  const o = parseOptions(process.argv.slice(2), SPEC);
  const data = o.extra.data ?? 'text';
  if (data !== 'text' && data !== 'random') usage(SPEC, `--data must be text or random, got ${String(data)}`);
  const random = data === 'random';
  const results: ShapeResult[] = [];
  let tools = '';
  await withHarness('backup', o, async (h) => {
    // Empty: the repo-only run's dump is over in a blink, so its repository step runs alone.
    const emptyDb = await h.newDatabase('bench_empty');
    for (const name of o.shapes) results.push(await benchShape(h, shape(name, o.nodes), emptyDb, { ...o, random }));
    tools = await toolVersions(h.env);
  });
  await publish('backup', o.out, 'backplan backup benchmark', [
    `Medians of ${o.repeats} interleaved rounds after ${o.warmup} untimed; seconds; AiiDA 1.x layout. Shapes:`,
    '',
    ...results.map((x) => `- ${x.label}`),
    '',
    ratioTable(results.flatMap((x) => x.rows)),
    'Parts (medians, s): the plain pipelines inside the side-by-side run, and backplan\'s steps (which also overlap):',
    '',
    mdTable(['shape', 'plain pg_dump | zstd (∥)', 'plain tar | zstd (∥)', 'backplan db-dump step', 'backplan repository step'], results.map((x) => x.parts)),
    conditions(tools),
    '',
  ]);
});
