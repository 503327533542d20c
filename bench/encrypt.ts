/**
 * The encryption benchmark: a whole tar-strategy `backplan run` with `encryption.age` (every
 * artefact compressed, then encrypted by age as one more pipeline stage) against the same run
 * unencrypted, on the same data, rounds interleaved. Goal: ≤ 1.1×. Also the two steps that
 * carry the bulk (db-dump, repository), each against its unencrypted self.
 *
 *   npm run bench:encrypt -- [--shape small|repo-heavy|db-heavy|all] [--nodes N] [--repeats 5]
 *
 * The default is small with 4,000 nodes (about 8,000 files, 20 MiB): a minute or two.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { $ } from 'zx';
import { parseOptions } from './lib/args.js';
import { backplanRun, stepMs, writeManifest } from './lib/backplan.js';
import { main, withHarness } from './lib/harness.js';
import type { Harness } from './lib/harness.js';
import { toolVersions } from './lib/plain.js';
import { conditions, publish, ratioTable, rowsFor } from './lib/report.js';
import type { RatioRow } from './lib/report.js';
import { describe, makeProfile, shape } from './lib/shapes.js';
import type { Shape } from './lib/shapes.js';
import { rounds } from './lib/timing.js';

const SPEC = { job: 'encrypt', defaults: { shape: 'small', repeats: 5, warmup: 1 } } as const;
const DEFAULT_NODES = 4_000;

async function benchShape(h: Harness, s: Shape, recipient: string, o: { repeats: number; warmup: number }): Promise<{ rows: RatioRow[]; label: string }> {
  const p = await makeProfile(h, s);
  const dir = join(h.work, s.name);
  const clear = { manifest: join(dir, 'clear.yaml'), destination: join(dir, 'backup-clear') };
  const sealed = { manifest: join(dir, 'encrypted.yaml'), destination: join(dir, 'backup-encrypted') };
  await writeManifest(clear.manifest, { name: 'bench-clear', destination: clear.destination, profile: p, strategy: 'tar' });
  await writeManifest(sealed.manifest, { name: 'bench-encrypted', destination: sealed.destination, profile: p, strategy: 'tar', recipients: [recipient] });
  const run = async (m: typeof clear, tag: string) => {
    await $`rm -rf ${m.destination}`.quiet();
    const x = await backplanRun(m.manifest, m.destination, h.env);
    return { [`${tag}Run`]: x.wallMs, [`${tag}Dump`]: stepMs(x.record, 'db-dump'), [`${tag}Repo`]: stepMs(x.record, 'repository') };
  };
  const label = describe(p);
  h.log(`${s.name}: ${label}`);
  const r = await rounds({ ...o, log: (l) => h.log(`${s.name}: ${l}`) }, [() => run(clear, 'clear'), () => run(sealed, 'sealed')]);
  const row = rowsFor(s.name);
  return {
    label,
    rows: [
      row('whole `backplan run`, encrypted with age (CLI start to exit)', 'the same run unencrypted', r.sealedRun!, r.clearRun!),
      row('its `db-dump` step (pg_dump | zstd | age)', 'unencrypted (pg_dump | zstd)', r.sealedDump!, r.clearDump!),
      row('its `repository` step (tar | zstd | age)', 'unencrypted (tar | zstd)', r.sealedRepo!, r.clearRepo!),
    ],
  };
}

main(async () => {
  const o = parseOptions(process.argv.slice(2), SPEC);
  const results: { rows: RatioRow[]; label: string }[] = [];
  let tools = '';
  await withHarness('encrypt', o, async (h) => {
    // Only the public key goes into the manifest; the identity is thrown away with the work dir.
    const identity = join(h.work, 'identity.txt');
    execFileSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).trim();
    for (const name of o.shapes) results.push(await benchShape(h, shape(name, o.nodes ?? (name === 'small' ? DEFAULT_NODES : undefined)), recipient, o));
    tools = `${await toolVersions(h.env)}; age ${execFileSync('age', ['--version'], { encoding: 'utf8' }).trim()}`;
  });
  await publish('encrypt', o.out, 'backplan encryption benchmark', [
    `Medians of ${o.repeats} interleaved rounds after ${o.warmup} untimed; seconds; tar strategy, custom dump, zstd -3; AiiDA 1.x layout; one age recipient. Shapes:`,
    '',
    ...results.map((x) => `- ${x.label}`),
    '',
    ratioTable(results.flatMap((x) => x.rows)),
    conditions(tools),
    '',
  ]);
});
