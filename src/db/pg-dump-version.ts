import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
let asked: Promise<string> | undefined;

/**
 * pg_dump's version ("15.20"), asked once per process: the plan needs its major version and the
 * dump records it, and on Debian each `pg_dump --version` goes through the perl pg_wrapper
 * (~35 ms of CPU).
 */
export function pgDumpVersion(): Promise<string> {
  asked ??= execFileAsync('pg_dump', ['--version']).then(
    ({ stdout }) => /\d+(\.\d+)*/.exec(stdout)?.[0] ?? stdout.trim(),
    (e: unknown) => {
      asked = undefined; // not found now may be installed by the next run of a long-lived process
      throw e;
    },
  );
  return asked;
}

/**
 * Asks now, so that the answer is in by the time the plan needs it (after the manifest is read
 * and the lock taken): the wrapper's ~80 ms then overlap that work. A failure is asked again then.
 */
export function askPgDumpVersionEarly(): void {
  pgDumpVersion().catch(() => undefined);
}

export function majorVersion(version: string): number {
  return Number(/^\d+/.exec(version)?.[0] ?? 0);
}
