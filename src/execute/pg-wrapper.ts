/**
 * Debian's PostgreSQL client commands (/usr/bin/pg_dump, pg_restore, psql, …) are links to
 * pg_wrapper, a perl script that picks a PostgreSQL version and execs that version's binary. Its
 * start costs 60–120 ms of CPU, three times in a backup (pg_dump --version, pg_dump,
 * pg_dumpall), on two cores shared with tar and zstd. Where its choice is simple we make it
 * ourselves and exec the binary directly: when the environment names the host (PGHOST, which
 * backplan always sets for its children), pg_wrapper ignores PGCLUSTER and its cluster maps and
 * takes the newest /usr/lib/postgresql/<version>/bin/<command>, with PGSYSCONFDIR defaulting to
 * /etc/postgresql-common. Anything else (a --cluster argument, no PGHOST, psql older than 13,
 * which pg_wrapper preloads readline for) still goes through pg_wrapper.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isExecutable, resolveCommand } from './which.js';

export const PG_WRAPPER = '/usr/share/postgresql-common/pg_wrapper';
const BIN_ROOT = '/usr/lib/postgresql';
const SYSCONF_DIR = '/etc/postgresql-common';

/** What to exec instead of a program PATH found, and the environment pg_wrapper would have given it. */
export interface Unwrapped {
  program: string;
  env: NodeJS.ProcessEnv;
}

/**
 * The binary pg_wrapper would exec for `program` (found on PATH) run with `args` and `env`, or
 * undefined when `program` is not pg_wrapper or its choice depends on more than PGHOST.
 */
export function unwrapPgWrapper(program: string, args: string[], env: NodeJS.ProcessEnv, binRoot = BIN_ROOT): Unwrapped | undefined {
  if (env.PGHOST === undefined || namesCluster(args) || realPath(program) !== PG_WRAPPER) return undefined;
  const command = basename(program);
  const version = newestVersion(command, binRoot);
  if (version === undefined || (command === 'psql' && Number(version) < 13)) return undefined;
  return { program: join(binRoot, version, 'bin', command), env: { ...env, PGSYSCONFDIR: env.PGSYSCONFDIR ?? SYSCONF_DIR } };
}

/** What a spawn of a command execs, with the argv[0] and environment it gets. */
export interface ExecTarget {
  /** Undefined: nothing of that name on PATH. */
  program: string | undefined;
  argv0: string;
  env: NodeJS.ProcessEnv;
}

/**
 * `name` as found on env.PATH, or, where that is pg_wrapper and its choice is plain, the binary
 * it would exec, with its full path as argv[0] as pg_wrapper gives it (pg_dumpall finds pg_dump
 * beside itself by it).
 */
export function execTarget(name: string, args: string[], env: NodeJS.ProcessEnv): ExecTarget {
  const found = resolveCommand(name, env.PATH);
  const direct = found === undefined ? undefined : unwrapPgWrapper(found, args, env);
  return direct ? { program: direct.program, argv0: direct.program, env: direct.env } : { program: found, argv0: name, env };
}

/**
 * What to run to ask `command --version` of the binary backplan's children run. They all run with
 * PGHOST set, so pg_wrapper takes the newest version for them; asked without PGHOST, it would
 * answer for PGCLUSTER's or the default cluster's version instead, which can be another one.
 */
export function clientForVersion(command: string, env: NodeJS.ProcessEnv = process.env): Unwrapped {
  const target = execTarget(command, [], { ...env, PGHOST: env.PGHOST ?? '' });
  return { program: target.program ?? command, env: target.env };
}

/** pg_wrapper's `--cluster` option, before any `--`. */
function namesCluster(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--cluster' || a.startsWith('--cluster='));
}

const realPaths = new Map<string, string | undefined>();

function realPath(path: string): string | undefined {
  if (!realPaths.has(path)) realPaths.set(path, tryRealpath(path));
  return realPaths.get(path);
}

function tryRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** PgCommon's get_newest_version: the highest version folder ("15", "9.6") holding the command. */
export function newestVersion(command: string, binRoot = BIN_ROOT): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(binRoot);
  } catch {
    return undefined;
  }
  const versions = entries.filter((v) => /^\d+\.?\d+$/.test(v) && isExecutable(join(binRoot, v, 'bin', command)));
  return versions.sort((a, b) => Number(a) - Number(b)).at(-1);
}
