/**
 * The startup benchmark: wall time of the commands a user or a CI job runs before any data is
 * read — `backplan --version`, `validate`, `plan --offline` — against a bare `node -e 0`, the
 * floor every node CLI pays. No profile and no database: the manifest names paths that do not
 * exist, which neither command reads.
 *
 *   npm run bench:startup -- [--repeats 10]
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { parseOptions } from './lib/args.js';
import { backplan, nodeProcess } from './lib/backplan.js';
import { main } from './lib/harness.js';
import { conditions, publish, ratioTable, rowsFor } from './lib/report.js';
import { rounds, wall } from './lib/timing.js';

const SPEC = { job: 'startup', defaults: { repeats: 10, warmup: 1 }, profiles: false } as const;

const MANIFEST = `version: 1
name: bench-startup
profile:
  aiida: { config: /nonexistent/.aiida/config.json, profile: demo }
destination: /nonexistent/backups
database: { format: custom, compression: zstd }
repository: { strategy: tar, tar: { compression: zstd, level: 3 } }
retention: { keepLast: 10 }
`;

main(async () => {
  const o = parseOptions(process.argv.slice(2), SPEC);
  const dir = o.work ?? (await mkdtemp(join(os.tmpdir(), 'backplan-bench-startup-')));
  const manifest = join(dir, 'manifest.yaml');
  await writeFile(manifest, MANIFEST);
  const commands: [string, string[]][] = [
    ['`backplan --version`', ['--version']],
    ['`backplan validate MANIFEST`', ['validate', manifest]],
    ['`backplan plan --offline MANIFEST`', ['plan', '--offline', manifest]],
  ];
  const r = await rounds({ repeats: o.repeats, warmup: o.warmup, log: (l) => process.stderr.write(`[bench] ${l}\n`) }, [
    wall('node', () => nodeProcess(['-e', '0'])),
    ...commands.map(([what, args]) => wall(what, () => backplan(args))),
  ]);
  if (!o.work && !o.keep) await $`rm -rf ${dir}`.quiet();
  const row = rowsFor('– (no profile)');
  const rows = commands.map(([what]) => row(what, '`node -e 0`', r[what]!, r.node!));
  await publish('startup', o.out, 'backplan startup benchmark', [
    `Medians of ${o.repeats} interleaved rounds after ${o.warmup} untimed; seconds, spawn to exit.`,
    '',
    ratioTable(rows),
    conditions(`node ${process.version}`),
    '',
  ]);
});
