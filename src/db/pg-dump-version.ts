import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { unwrapPgWrapper } from '../execute/pg-wrapper.js';
import { resolveCommand } from '../execute/which.js';

const execFileAsync = promisify(execFile);
let asked: Promise<string> | undefined;

/**
 * pg_dump's version ("15.20"), asked once per process: the plan needs its major version and the
 * dump records it.
 */
export function pgDumpVersion(): Promise<string> {
  asked ??= execFileAsync(dumpsPgDump(), ['--version']).then(
    ({ stdout }) => /\d+(\.\d+)*/.exec(stdout)?.[0] ?? stdout.trim(),
    (e: unknown) => {
      asked = undefined; // not found now may be installed by the next run of a long-lived process
      throw e;
    },
  );
  return asked;
}

/**
 * The pg_dump the dump will run. Its environment names the host (steps/plan-input.ts libpqEnv),
 * so on Debian that is the binary pg_wrapper picks with PGHOST set, which we call directly
 * (execute/pg-wrapper.ts); without PGHOST, pg_wrapper could pick the default cluster's version.
 */
function dumpsPgDump(): string {
  const found = resolveCommand('pg_dump', process.env.PATH);
  return (found && unwrapPgWrapper(found, [], { PGHOST: 'any' })?.program) ?? 'pg_dump';
}

/**
 * Asks now, so that the answer is in by the time the plan needs it (after the manifest is read
 * and the lock taken): its start then overlaps that work. A failure is asked again then.
 */
export function askPgDumpVersionEarly(): void {
  pgDumpVersion().catch(() => undefined);
}

export function majorVersion(version: string): number {
  return Number(/^\d+/.exec(version)?.[0] ?? 0);
}
