/**
 * The restore benchmark, per shape, on the same backups:
 *
 *   - `backplan restore` of a tar snapshot (checksums checked, archive scanned, files and
 *     database side by side) against `zstd -dc repository.tar.zst | tar -x` and `createdb` +
 *     `zstd -dc database.dump.zst | pg_restore` run concurrently;
 *   - `backplan restore` of an rsync snapshot against `rsync -a` of its repository/ folder, and
 *     against `tar -cf - . | tar -xf -` of it (faster than rsync on many small files),
 *     concurrently with the same pg_restore;
 *   - `backplan restore` of an incremental chain (full + 2 incrementals, 1% of the nodes changed
 *     before each) against extracting the same archives by hand in order, concurrently with
 *     pg_restore of the last snapshot's dump.
 *
 *   npm run bench:restore -- [--shape repo-heavy|db-heavy|small|all] [--nodes N] [--repeats 3]
 */
import { join } from 'node:path';
import { $ } from 'zx';
import { parseOptions } from './lib/args.js';
import { artefact, backplan, backplanRun, writeManifest } from './lib/backplan.js';
import type { RunResult } from './lib/backplan.js';
import { main } from './lib/harness.js';
import type { Harness } from './lib/harness.js';
import { plainTools } from './lib/plain.js';
import { benchShapes } from './lib/per-shape.js';
import type { ShapeRows } from './lib/per-shape.js';
import { rowsFor } from './lib/report.js';
import { changeNodes, describe, makeProfile } from './lib/shapes.js';
import type { BenchProfile, Shape } from './lib/shapes.js';
import { concurrently, rounds, timeMs } from './lib/timing.js';

// The backups were just written and read back: caches are warm without a warm-up round.
const SPEC = { job: 'restore', defaults: { shape: 'all', repeats: 3, warmup: 0 } } as const;
const CHANGED = 0.01;

/** The tar snapshot and the incremental chain (full first) of the profile, as backplan wrote them. */
async function backups(h: Harness, p: BenchProfile, dir: string): Promise<{ tar: string; tarRun: RunResult; rsync: string; rsyncRun: RunResult; incr: string; chain: RunResult[] }> {
  const tar = join(dir, 'tar.yaml');
  const rsync = join(dir, 'rsync.yaml');
  const rsyncDest = join(dir, 'backup-rsync');
  await writeManifest(rsync, { name: 'bench-restore-rsync', destination: rsyncDest, profile: p, strategy: 'rsync' });
  const incr = join(dir, 'incremental.yaml');
  const tarDest = join(dir, 'backup-tar');
  const incrDest = join(dir, 'backup-incremental');
  await writeManifest(tar, { name: 'bench-restore-tar', destination: tarDest, profile: p, strategy: 'tar' });
  await writeManifest(incr, { name: 'bench-restore-incr', destination: incrDest, profile: p, strategy: 'incremental' });
  h.log(`${p.shape.name}: backing up (tar; rsync; incremental full + 2 incrementals)`);
  const tarRun = await backplanRun(tar, tarDest, h.env);
  const rsyncRun = await backplanRun(rsync, rsyncDest, h.env);
  const chain = [await backplanRun(incr, incrDest, h.env)];
  for (let i = 0; i < 2; i++) {
    await changeNodes(h, p, Math.max(2, Math.round(p.shape.nodes * CHANGED)));
    chain.push(await backplanRun(incr, incrDest, h.env));
  }
  const kinds = chain.map((r) => r.record.kind).join(', ');
  if (kinds !== 'full, incr, incr') throw new Error(`expected a full and 2 incrementals, got ${kinds}`);
  return { tar, tarRun, rsync, rsyncRun, incr, chain };
}

async function benchShape(h: Harness, s: Shape, o: { repeats: number; warmup: number }): Promise<ShapeRows> {
  const p = await makeProfile(h, s);
  const dir = join(h.work, s.name);
  const b = await backups(h, p, dir);
  const label = describe(p);
  const plain = plainTools(h.env);
  const target = join(dir, 'restored');
  const tarArchive = artefact(b.tarRun, /^repository\.tar\.zst$/);
  const tarDump = artefact(b.tarRun, /^database\.dump\.zst$/);
  const rsyncFolder = join(b.rsyncRun.snapshotDir, 'repository');
  const rsyncDump = artefact(b.rsyncRun, /^database\.dump\.zst$/);
  const chainArchives = b.chain.map((r) => artefact(r, /^repository(-delta)?\.tar\.zst$/));
  const chainDump = artefact(b.chain.at(-1)!, /^database\.dump\.zst$/);

  /** A timed restore into an empty target folder and a new database, both removed after it. */
  const restore = (name: string, fn: (database: string) => Promise<number>) => async () => {
    await $`rm -rf ${target}`.quiet();
    const database = h.databaseName('bench_restored');
    try {
      return { [name]: await fn(database) };
    } finally {
      await h.drop(database);
      await $`rm -rf ${target}`.quiet();
      // Untimed: the next part must not pay for writing back this one's files and deletions.
      await $`sync`.quiet();
    }
  };
  const viaCli = (manifest: string) => (database: string) => timeMs(() => backplan(['restore', manifest, 'latest', '--to', target, '--database', database], h.env));
  const byHand = (files: () => Promise<unknown>, dump: string) => (database: string) =>
    concurrently('total', { files, database: () => plain.restoreDump(dump, database) }).then((f) => f.total!);
  const extracting = (archives: string[]) => async () => {
    for (const a of archives) await plain.extract(a, join(target, 'repository'));
  };

  h.log(`${s.name}: ${label}`);
  const r = await rounds({ ...o, rotate: true, log: (l) => h.log(`${s.name}: ${l}`) }, [
    restore('tar', viaCli(b.tar)),
    restore('plainTar', byHand(extracting([tarArchive]), tarDump)),
    restore('rsync', viaCli(b.rsync)),
    restore('plainRsync', byHand(async () => {
      await $`mkdir -p ${target}`.quiet();
      await plain.rsync(rsyncFolder, join(target, 'repository'));
    }, rsyncDump)),
    restore('plainTarCopy', byHand(() => plain.tarCopy(rsyncFolder, join(target, 'repository')), rsyncDump)),
    restore('chain', viaCli(b.incr)),
    restore('plainChain', byHand(extracting(chainArchives), chainDump)),
  ]);
  const row = rowsFor(s.name);
  return {
    label,
    rows: [
      row('`restore` of a tar snapshot', '`zstd -dc repository.tar.zst | tar -x` ∥ `createdb` + `zstd -dc database.dump.zst | pg_restore`', r.tar!, r.plainTar!),
      row('`restore` of an rsync snapshot', '`rsync -a snapshot/repository/ target/repository/` ∥ `createdb` + `zstd -dc database.dump.zst | pg_restore`', r.rsync!, r.plainRsync!),
      row('the same', '`tar -C snapshot/repository -cf - . | tar -C target/repository -xf -` ∥ the same load', r.rsync!, r.plainTarCopy!),
      row('`restore` of an incremental chain (full + 2 incrementals)', 'the 3 archives extracted in order ∥ `createdb` + `pg_restore` of the last dump', r.chain!, r.plainChain!),
    ],
  };
}

main(async () => {
  const o = parseOptions(process.argv.slice(2), SPEC);
  await benchShapes(
    'restore',
    'backplan restore benchmark',
    o,
    `Medians of ${o.repeats} interleaved rounds after ${o.warmup} untimed; seconds (CLI start to exit); AiiDA 1.x layout; ` +
      `each incremental after ${CHANGED * 100}% of the nodes changed (half new, half rewritten). Shapes:`,
    (h, s) => benchShape(h, s, o),
  );
});
