/**
 * The incremental benchmark, per shape and repository layout, on the same data:
 *
 *   - the plain tools: a full `tar | zstd -3 -T0`, and `rsync -a` with nothing to copy (the
 *     mirror made by an initial rsync and brought up to date after every change);
 *   - backplan: full runs of the incremental strategy (each into an empty destination), then per
 *     round `--changed` of the nodes changed (1.x: half new, half with a rewritten file; 2.x: new
 *     nodes appended to the packs, as `verdi storage maintain` leaves them) and an incremental
 *     run: its wall time, its repository step (snapshot.json) and backplan's own peak RSS
 *     (VmHWM of the node process; pg_dump, tar and zstd are children and not counted);
 *   - 2.x: the bytes the incremental adds for the repository (delta tar, pack tails, packs.idx
 *     delta) against the new objects' bytes, and against what `rsync -a --link-dest=<mirror>`
 *     (what `verdi storage backup` runs) writes anew.
 *
 *   npm run bench:incremental -- [--shape repo-heavy] [--nodes N] [--layout both] [--changed 0.01]
 *
 * Targets (issue 5): 1.x incremental(1%) ≤ 0.05× rsync no-op at 100k nodes; peak RSS < 200 MB
 * at 1M nodes (--nodes 1000000 --no-baselines); 2.x delta ≤ 3× the new objects' bytes.
 */
import { join } from 'node:path';
import { $ } from 'zx';
import type { AiidaLayout } from '../src/demo/profile/index.js';
import { formatBytes } from '../src/util/bytes.js';
import { parseOptions, usage } from './lib/args.js';
import type { CommonOptions } from './lib/args.js';
import { backplanRun, stepMs, writeManifest } from './lib/backplan.js';
import { main, withHarness } from './lib/harness.js';
import type { Harness } from './lib/harness.js';
import { filesUnder, plainTools, toolVersions } from './lib/plain.js';
import { conditions, mdTable, publish, ratioTable, rowsFor, secs } from './lib/report.js';
import type { RatioRow } from './lib/report.js';
import { changeNodes, describe, makeProfile, shape } from './lib/shapes.js';
import type { Shape } from './lib/shapes.js';
import { median, rounds, timeMs, wall } from './lib/timing.js';

const SPEC = {
  job: 'incremental',
  usage: `  --layout L     aiida-1, disk-objectstore or both (default both)
  --changed F    fraction of the nodes changed before each incremental (default 0.01)
  --no-baselines skip tar and rsync (e.g. for the 1M-node peak-RSS run)`,
  extra: { layout: { type: 'string' }, changed: { type: 'string' }, 'no-baselines': { type: 'boolean' } },
  defaults: { shape: 'repo-heavy', repeats: 3, warmup: 0 },
} as const;
const LAYOUTS: Record<string, AiidaLayout[]> = { both: ['aiida-1', 'disk-objectstore'], 'aiida-1': ['aiida-1'], 'disk-objectstore': ['disk-objectstore'] };

interface Options extends CommonOptions {
  layouts: AiidaLayout[];
  changed: number;
  baselines: boolean;
}

function options(argv: string[]): Options {
  const o = parseOptions(argv, SPEC);
  const fail = (message: string): never => usage(SPEC, message);
  const layouts = LAYOUTS[String(o.extra.layout ?? 'both')] ?? fail('--layout must be aiida-1, disk-objectstore or both');
  const changed = Number(o.extra.changed ?? 0.01);
  if (!(changed > 0 && changed < 1)) fail('--changed must be a fraction between 0 and 1');
  return { ...o, layouts, changed, baselines: o.extra['no-baselines'] !== true };
}

interface Result {
  label: string;
  rows: RatioRow[];
  facts: string[];
}

async function benchOne(h: Harness, s: Shape, layout: AiidaLayout, o: Options): Promise<Result> {
  const v2 = layout === 'disk-objectstore';
  const dir = join(h.work, `${s.name}-${layout}`);
  const p = await makeProfile(h, s, { layout, packed: v2, dir });
  const name = `${s.name}, ${layout}${v2 ? ' (packed)' : ''}`;
  const destination = join(dir, 'backups');
  const manifest = await writeManifest(join(dir, 'manifest.yaml'), { name: 'bench-incremental', destination, profile: p, strategy: 'incremental' });
  const plain = plainTools(h.env);
  const mirror = join(dir, 'rsync-mirror');
  const packs = async () => (v2 ? (await filesUnder(join(p.repo, 'container', 'packs'))).bytes : 0);
  const log = (l: string) => h.log(`${name}: ${l}`);
  log(describe(p));

  const rss = { full: [] as number[], incr: [] as number[] };
  const bytes = { delta: [] as number[], newObjects: [] as number[], linkDest: [] as number[] };
  const initial = o.baselines ? await timeMs(() => plain.rsync(p.repo, mirror)) : NaN;
  const full = await rounds({ repeats: o.repeats, warmup: o.warmup, log }, [
    async (warmup) => {
      await $`rm -rf ${destination}`.quiet();
      const x = await backplanRun(manifest, destination, h.env);
      if (!warmup) rss.full.push(x.peakRssKiB);
      return { full: x.wallMs };
    },
  ]);

  const count = Math.max(2, Math.round(s.nodes * o.changed));
  // Bytes and RSS are kept here, from the timed rounds only; rounds() gathers the durations.
  const changeAndIncrement = async (warmup: boolean) => {
    const keep = (xs: number[], x: number) => warmup || xs.push(x);
    const before = await packs();
    await changeNodes(h, p, count);
    if (v2) keep(bytes.newObjects, (await packs()) - before);
    const x = await backplanRun(manifest, destination, h.env);
    if (x.record.kind !== 'incr') throw new Error(`expected an incremental snapshot, got ${x.record.id}`);
    keep(rss.incr, x.peakRssKiB);
    keep(bytes.delta, x.record.artefacts.filter((a) => /^(repository|packs)/.test(a.path)).reduce((n, a) => n + a.bytes, 0));
    if (o.baselines) {
      if (v2) {
        const linked = join(dir, 'rsync-link-dest');
        await plain.rsync(p.repo, linked, mirror);
        keep(bytes.linkDest, (await filesUnder(linked, ['-links', '1'])).bytes);
        await $`rm -rf ${linked}`.quiet();
      }
      await plain.rsync(p.repo, mirror); // up to date again: the next round's rsync copies nothing
    }
    return { incrRun: x.wallMs, incrStep: stepMs(x.record, 'repository') };
  };
  const baselines = o.baselines
    ? [wall('tar', () => plain.tarZstd(p.repo, join(dir, 'plain.tar.zst'))), wall('rsyncNoop', () => plain.rsync(p.repo, mirror))]
    : [];
  const r = await rounds({ repeats: o.repeats, warmup: o.warmup, log }, [...baselines, changeAndIncrement]);

  const row = rowsFor(name);
  const RSYNC = '`rsync -a repo/ mirror/`, nothing to copy';
  const size = (xs: number[]) => (xs.length ? formatBytes(median(xs)) : '');
  const per = (a: number[], b: number[]) => (a.length && b.length ? `${(median(a) / median(b)).toFixed(2)}×` : '');
  const mb = (xs: number[]) => `${(Math.max(...xs) / 1024).toFixed(0)}`;
  return {
    label: `${describe(p)}, ${layout}${v2 ? ' packed' : ''}; ${count} nodes changed per round`,
    rows: o.baselines
      ? [
          row('incremental `repository` step', RSYNC, r.incrStep!, r.rsyncNoop!),
          row('incremental `backplan run` (whole)', RSYNC, r.incrRun!, r.rsyncNoop!),
          row('incremental `repository` step', '`tar -C repo -cf - . | zstd -3 -T0 > f` (full)', r.incrStep!, r.tar!),
        ]
      : [],
    facts: [name, secs(initial), secs(median(full.full!)), secs(median(r.incrRun!)), `${mb(rss.full)} / ${mb(rss.incr)}`, size(bytes.delta), size(bytes.newObjects), per(bytes.delta, bytes.newObjects), size(bytes.linkDest), per(bytes.linkDest, bytes.newObjects)],
  };
}

main(async () => {
  const o = options(process.argv.slice(2));
  const results: Result[] = [];
  let tools = '';
  await withHarness('incremental', o, async (h) => {
    for (const name of o.shapes) for (const layout of o.layouts) results.push(await benchOne(h, shape(name, o.nodes), layout, o));
    tools = await toolVersions(h.env);
  });
  await publish('incremental', o.out, 'backplan incremental benchmark', [
    `Medians of ${o.repeats} rounds after ${o.warmup} untimed; seconds; ${o.changed * 100}% of the nodes changed before each incremental. Shapes:`,
    '',
    ...results.map((x) => `- ${x.label}`),
    '',
    o.baselines ? ratioTable(results.flatMap((x) => x.rows)) : 'Plain-tool baselines skipped (--no-baselines).\n',
    mdTable(
      ['shape, layout', 'rsync -a, initial s', 'backplan full run s', 'backplan incremental run s', 'backplan peak RSS MB (full / incr)', 'incremental repository artefacts', 'new objects (2.x)', 'artefacts / new objects', 'rsync --link-dest writes anew (2.x)', 'link-dest / new objects'],
      results.map((x) => x.facts),
    ),
    conditions(tools),
    '',
  ]);
});
