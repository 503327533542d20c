/** The options every benchmark script shares, and the checks for its own. */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_ROOT } from './paths.js';
import { SHAPE_NAMES } from './shapes.js';
import type { ShapeName } from './shapes.js';

export interface CommonOptions {
  shapes: ShapeName[];
  /** Database nodes of each shape; undefined: the shape's default. */
  nodes?: number;
  repeats: number;
  warmup: number;
  work?: string;
  keep: boolean;
  out: string;
  /** The script's own options, as parseArgs read them. */
  extra: Record<string, string | boolean | undefined>;
}

export interface ScriptSpec {
  /** `node dist/bench/<job>.js`: the first line of the usage. */
  job: string;
  /** One line per option of the script's own, already formatted. */
  usage?: string;
  extra?: Record<string, { type: 'string' | 'boolean' }>;
  /** shape: required unless profiles is false. */
  defaults: { shape?: ShapeName | 'all'; repeats: number; warmup: number };
  /** False for a script that generates no profile: --shape and --nodes are refused. */
  profiles?: boolean;
}

export function commonUsage(spec: ScriptSpec): string {
  const d = spec.defaults;
  const shapes = `
  --shape S      ${SHAPE_NAMES.join(', ')} or all (default ${d.shape})
  --nodes N      database nodes of each shape (default: the shape's; see bench/lib/shapes.ts)`;
  return `usage: node dist/bench/${spec.job}.js [options]${spec.profiles === false ? '' : shapes}
  --repeats R    timed rounds; medians are reported (default ${d.repeats})
  --warmup W     untimed rounds first (default ${d.warmup})
  --work DIR     where profiles, backups and plain-tool outputs go (default: a temp dir)
  --keep         keep the work dir, and the databases on a server of yours (PG*, DATABASE_URL)
  --out DIR      where the results table goes (default bench/results)
${spec.usage ?? ''}`.trimEnd();
}

export function parseOptions(argv: string[], spec: ScriptSpec): CommonOptions {
  const fail = (message: string): never => usage(spec, message);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        shape: { type: 'string' },
        nodes: { type: 'string' },
        repeats: { type: 'string' },
        warmup: { type: 'string' },
        work: { type: 'string' },
        keep: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...spec.extra,
      },
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (values.help) usage(spec, '');
  if (spec.profiles === false && (values.shape !== undefined || values.nodes !== undefined)) fail(`${spec.job} generates no profile: --shape and --nodes do not apply`);
  const shape = (values.shape as string | undefined) ?? spec.defaults.shape ?? 'all';
  if (shape !== 'all' && !SHAPE_NAMES.includes(shape as ShapeName)) fail(`--shape must be ${SHAPE_NAMES.join(', ')} or all, got ${shape}`);
  const { shape: _s, nodes, repeats, warmup, work, keep, out, help: _h, ...extra } = values;
  return {
    shapes: shape === 'all' ? [...SHAPE_NAMES] : [shape as ShapeName],
    nodes: nodes === undefined ? undefined : integer('nodes', nodes, 1, fail),
    repeats: repeats === undefined ? spec.defaults.repeats : integer('repeats', repeats, 1, fail),
    warmup: warmup === undefined ? spec.defaults.warmup : integer('warmup', warmup, 0, fail),
    work: typeof work === 'string' ? resolve(work) : undefined,
    keep: keep === true,
    out: resolve(typeof out === 'string' ? out : join(BENCH_ROOT, 'results')),
    extra,
  };
}

/** A whole number ≥ min (underscores allowed: 1_000_000), or the usage and exit 2. */
function integer(name: string, value: string | boolean | undefined, min: number, fail: (message: string) => never): number {
  const n = Number(String(value).replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number ≥ ${min}, got ${String(value)}`);
  return n;
}

export function usage(spec: ScriptSpec, message: string): never {
  process.stderr.write(`${message ? `${message}\n` : ''}${commonUsage(spec)}\n`);
  process.exit(message ? 2 : 0);
}
