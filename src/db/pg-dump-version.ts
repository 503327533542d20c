import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { clientForVersion } from '../execute/pg-wrapper.js';

const execFileAsync = promisify(execFile);
let asked: Promise<string> | undefined;

/**
 * The version ("15.20") of the pg_dump the dump will run, asked once per process: the plan needs
 * its major version and the dump records it.
 */
export function pgDumpVersion(): Promise<string> {
  asked ??= askPgDump().then(
    ({ stdout }) => /\d+(\.\d+)*/.exec(stdout)?.[0] ?? stdout.trim(),
    (e: unknown) => {
      asked = undefined; // not found now may be installed by the next run of a long-lived process
      throw e;
    },
  );
  return asked;
}

function askPgDump(): Promise<{ stdout: string }> {
  const pgDump = clientForVersion('pg_dump');
  return execFileAsync(pgDump.program, ['--version'], { env: pgDump.env });
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
