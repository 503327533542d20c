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
