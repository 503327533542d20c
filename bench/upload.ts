/**
 * The upload benchmark, on one generated profile and a loopback S3 server (s3rver, as the tests
 * use):
 *
 *   - a whole tar-strategy `backplan run` to `rclone:…` (CLI start to exit: dump and archive made
 *     and streamed up by `rclone rcat`, snapshot.json, lock, sizes checked) against `rclone copy`
 *     of the very files of that snapshot, made beforehand in a local folder (the upload alone);
 *   - the same run against today's glue: `backplan run` to a local folder, then `rclone copy` of
 *     the snapshot it made.
 *
 * Each round writes to fresh prefixes of the bucket.
 *
 *   npm run bench:upload -- [--shape small|repo-heavy|db-heavy] [--nodes N] [--repeats 3]
 */
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { $ } from 'zx';
import { startS3 } from '../test/support/s3-server.js';
import { parseOptions } from './lib/args.js';
import { backplan, writeManifest } from './lib/backplan.js';
import { main, withHarness } from './lib/harness.js';
import { toolVersions } from './lib/plain.js';
import { conditions, publish, ratioTable, rowsFor } from './lib/report.js';
import type { RatioRow } from './lib/report.js';
import { describe, makeProfile, shape } from './lib/shapes.js';
import { rounds, timeMs } from './lib/timing.js';

const SPEC = { job: 'upload', defaults: { shape: 'small', repeats: 3, warmup: 1 } } as const;
/** Small by default: the whole script takes a minute or two. */
const DEFAULT_NODES = 2_000;
const REMOTE = 'benchs3';

main(async () => {
  const o = parseOptions(process.argv.slice(2), SPEC);
  if (o.shapes.length !== 1) throw new Error('upload runs one shape at a time: pass --shape');
  const rows: RatioRow[] = [];
  let label = '';
  let tools = '';
  const s3 = await startS3();
  try {
    await withHarness('upload', o, async (h) => {
      const s = shape(o.shapes[0]!, o.nodes ?? DEFAULT_NODES);
      const p = await makeProfile(h, s);
      label = describe(p);
      const env = { ...h.env, ...s3.rcloneEnv(REMOTE, 'bench-secret'), BACKPLAN_STAGING: join(h.work, 'staging') };
      const dir = join(h.work, 'upload');
      await $`mkdir -p ${dir}`.quiet();
      let n = 0;
      const manifestTo = async (destination: string) => writeManifest(join(dir, `m-${++n}.yaml`), { name: 'bench-upload', destination, profile: p, strategy: 'tar' });
      const rcloneCopy = (from: string) => $({ env, quiet: true })`rclone --quiet copy ${from} ${`${REMOTE}:backplan/copy-${++n}`}`;
      const localRun = async () => {
        const destination = join(dir, `local-${++n}`);
        await backplan(['run', await manifestTo(destination)], env);
        return join(destination, await readlink(join(destination, 'latest')));
      };
      // The files rclone copy uploads: a snapshot as backplan makes it in a folder.
      const snapshot = await localRun();
      h.log(`upload: ${label}; snapshot ${snapshot}`);
      const r = await rounds({ ...o, log: (l) => h.log(`upload: ${l}`) }, [
        async () => ({ s3Run: (await backplan(['run', await manifestTo(`rclone:${REMOTE}:backplan/run-${++n}`)], env)).wallMs }),
        async () => ({ copy: await timeMs(() => rcloneCopy(snapshot)) }),
        async () => ({ glue: await timeMs(async () => rcloneCopy(await localRun())) }),
      ]);
      const row = rowsFor(s.name);
      const run = 'whole `backplan run` → S3, tar strategy (streamed up; CLI start to exit)';
      rows.push(row(run, '`rclone copy` of the same snapshot\'s files (upload alone)', r.s3Run!, r.copy!));
      rows.push(row('the same', '`backplan run` to a local folder, then `rclone copy` of its snapshot', r.s3Run!, r.glue!));
      tools = `${await toolVersions(h.env)}; ${(await $`rclone version`.quiet()).stdout.split('\n')[0]}`;
    });
  } finally {
    await s3.stop();
  }
  await publish('upload', o.out, 'backplan upload benchmark (rclone destination, loopback S3)', [
    `Medians of ${o.repeats} interleaved rounds after ${o.warmup} untimed; seconds; AiiDA 1.x layout; S3: s3rver on 127.0.0.1. Profile:`,
    '',
    `- ${label}`,
    '',
    ratioTable(rows),
    conditions(tools),
    '',
  ]);
});
