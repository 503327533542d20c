/**
 * The verify benchmark, per shape, on the same tar snapshot:
 *
 *   - `backplan verify` (every artefact re-hashed against snapshot.json) against `sha256sum` of
 *     the same files, one process per file, all at once;
 *   - `backplan verify --restore-test` (re-hash, restore into a scratch database and folder,
 *     compare counts, drop both) against those `sha256sum`s followed by `zstd -dc | tar -x` ∥
 *     `createdb` + `pg_restore` and removing both again.
 *
 *   npm run bench:verify -- [--shape repo-heavy|db-heavy|small|all] [--nodes N] [--repeats 3]
 */
import { join } from 'node:path';
import { $ } from 'zx';
import { parseOptions } from './lib/args.js';
import { artefact, backplan, backplanRun, writeManifest } from './lib/backplan.js';
import { main } from './lib/harness.js';
import type { Harness } from './lib/harness.js';
import { plainTools } from './lib/plain.js';
import { benchShapes } from './lib/per-shape.js';
import type { ShapeRows } from './lib/per-shape.js';
import { rowsFor } from './lib/report.js';
import { describe, makeProfile } from './lib/shapes.js';
import type { Shape } from './lib/shapes.js';
import { concurrently, rounds, timeMs } from './lib/timing.js';

// The snapshot was just written: caches are as warm as a verify right after a run finds them.
const SPEC = { job: 'verify', defaults: { shape: 'all', repeats: 3, warmup: 0 } } as const;

async function benchShape(h: Harness, s: Shape, o: { repeats: number; warmup: number }): Promise<ShapeRows> {
  const p = await makeProfile(h, s);
  const dir = join(h.work, s.name);
  const manifest = join(dir, 'tar.yaml');
  const destination = join(dir, 'backup-tar');
  await writeManifest(manifest, { name: 'bench-verify', destination, profile: p, strategy: 'tar' });
  h.log(`${s.name}: backing up (tar)`);
  const snapshot = await backplanRun(manifest, destination, h.env);
  const files = snapshot.record.artefacts.map((a) => join(snapshot.snapshotDir, a.path));
  const archive = artefact(snapshot, /^repository\.tar\.zst$/);
  const dump = artefact(snapshot, /^database\.dump\.zst$/);
  const plain = plainTools(h.env);
  const sha256sums = () => Promise.all(files.map((f) => $({ quiet: true })`sha256sum -- ${f}`));
  const target = join(dir, 'restored');

  const restoreByHand = async () => {
    const database = h.databaseName('bench_verify');
    const ms = await timeMs(async () => {
      await sha256sums();
      await concurrently('restore', { files: () => plain.extract(archive, join(target, 'repository')), database: () => plain.restoreDump(dump, database) });
      await h.drop(database);
      await $`rm -rf ${target}`.quiet();
    });
    return { plainRestoreTest: ms };
  };
  const label = describe(p);
  h.log(`${s.name}: ${label}`);
  const r = await rounds({ ...o, log: (l) => h.log(`${s.name}: ${l}`) }, [
    async () => ({ verify: await timeMs(() => backplan(['verify', manifest, 'latest'], h.env)) }),
    async () => ({ plainVerify: await timeMs(sha256sums) }),
    async () => ({ restoreTest: await timeMs(() => backplan(['verify', '--restore-test', manifest, 'latest'], h.env)) }),
    restoreByHand,
  ]);
  const row = rowsFor(s.name);
  return {
    label,
    rows: [
      row('`verify` (every artefact re-hashed)', '`sha256sum` of each artefact, all at once', r.verify!, r.plainVerify!),
      row('`verify --restore-test` (re-hash, scratch restore, counts compared, scratch dropped)', 'the same `sha256sum`s, then `zstd -dc | tar -x` ∥ `createdb` + `pg_restore`, then `dropdb` and `rm -rf`', r.restoreTest!, r.plainRestoreTest!),
    ],
  };
}

main(async () => {
  const o = parseOptions(process.argv.slice(2), SPEC);
  await benchShapes(
    'verify',
    'backplan verify benchmark',
    o,
    `Medians of ${o.repeats} interleaved rounds after ${o.warmup} untimed; seconds (CLI start to exit); AiiDA 1.x layout, tar strategy, zstd. Shapes:`,
    (h, s) => benchShape(h, s, o),
  );
});
