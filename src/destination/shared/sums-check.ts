/**
 * `sha256sum --check` of a SHA256SUMS list, read as it streams: sha256sum (C, at disk speed)
 * does the hashing where the files are, locally or on an ssh host, and every line of its output
 * is counted, however many millions of files the list holds.
 */
import type { Writable } from 'node:stream';
import { lineSink } from '../../util/lines.js';
import { displayName } from '../../util/names.js';
import type { VerifyReport } from '../types.js';

/**
 * How a long list is checked: dealt round-robin (`split -n r/K/N`) to one sha256sum per core.
 * On many small files one sha256sum is bound by its own open/read/close calls, not by the disk
 * (200k files of 200 B in RAM: 3.7 s alone, 1.6 s as two).
 */
export const CHECKERS = {
  /** List bytes (about a thousand files) below which one sha256sum ends before another could start. */
  splitFrom: 100_000,
  /** On a many-core host, a verify leaves the other cores to what else runs there. */
  most: 4,
};

/**
 * A Writable taking sha256sum --check's stdout (`NAME: OK`, `NAME: FAILED`, `NAME: FAILED open
 * or read`; a name with `\` or a newline escaped and the line prefixed with `\`), adding each
 * file to `report`. Names are read as latin1, one char per byte (util/names.ts).
 */
export function sumsCheckSink(listPath: string, report: VerifyReport): Writable {
  return lineSink((text) => {
    const m = /^(\\?)(.*): (OK|FAILED.*)$/.exec(text);
    if (!m) return;
    report.checkedFiles++;
    if (m[3] === 'OK') return;
    const name = m[1] ? m[2]!.replace(/\\(\\|n|r)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\')) : m[2]!;
    report.problems.push({ path: displayName(name), problem: m[3] === 'FAILED' ? `sha256 does not match ${listPath}` : 'missing' });
  });
}
