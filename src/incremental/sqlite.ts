/**
 * The one way backplan runs SQLite (disk-objectstore's packs.idx): Node 20 has no SQLite binding,
 * so SQL goes to the sqlite3 CLI, as arguments or on stdin, through the subprocess layer.
 */
import { Readable } from 'node:stream';
import { BackplanError } from '../errors.js';
import { run } from '../execute/subprocess.js';

/** -bail: stop at the first error; -batch: never prompt. */
export function sqliteArgv(args: string[]): string[] {
  return ['sqlite3', '-bail', '-batch', ...args];
}

export interface SqliteOptions {
  signal?: AbortSignal;
  /** SQL fed on stdin, run after any SQL given in args. */
  input?: string;
}

/** Runs sqlite3 with `args` (the database first) and resolves with its stdout. */
export async function sqlite(args: string[], opts: SqliteOptions = {}): Promise<string> {
  try {
    const stdin = opts.input === undefined ? 'ignore' : Readable.from(opts.input);
    return (await run(sqliteArgv(args), { signal: opts.signal, stdin })).stdout ?? '';
  } catch (e) {
    if (e instanceof BackplanError && e.code === 'COMMAND_FAILED') e.details.hint ??= 'packs.idx must be readable and its folder writable (SQLite WAL mode)';
    throw e;
  }
}
