/**
 * The results: a markdown table of "backplan / plain tools" ratios (medians), printed and written
 * to bench/results/<job>-<time>.md with the machine's conditions under it.
 */
import { access, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { median } from './timing.js';

export const secs = (ms: number) => (Number.isNaN(ms) ? '–' : (ms / 1000).toFixed(2));

export interface RatioRow {
  /** The shape (or layout) the figures are for. */
  shape: string;
  backplan: string;
  plain: string;
  /** Durations in ms, one per timed round. */
  backplanMs: number[];
  plainMs: number[];
}

/** A row maker for one shape: row(backplan, plain, backplanMs, plainMs). */
export function rowsFor(shape: string): (backplan: string, plain: string, backplanMs: number[], plainMs: number[]) => RatioRow {
  return (backplan, plain, backplanMs, plainMs) => ({ shape, backplan, plain, backplanMs, plainMs });
}

/** A markdown table; `|` inside cells is escaped. */
export function mdTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n') + '\n';
}

/** Median seconds, and every run's when there are a few ("1.23 (1.20, 1.23, 1.40)"), else their range. */
function runs(ms: number[]): string {
  if (ms.length < 2) return secs(median(ms));
  const spread = ms.length <= 5 ? ms.map(secs).join(', ') : `${secs(Math.min(...ms))}–${secs(Math.max(...ms))}`;
  return `${secs(median(ms))} (${spread})`;
}

export function ratioTable(rows: RatioRow[]): string {
  return mdTable(
    ['shape', 'backplan', 'plain tools', 'backplan s', 'plain s', 'ratio'],
    rows.map((r) => [r.shape, r.backplan, r.plain, runs(r.backplanMs), runs(r.plainMs), `**${(median(r.backplanMs) / median(r.plainMs)).toFixed(2)}**`]),
  );
}

export function conditions(tools: string): string {
  const cpus = os.cpus();
  return [
    `- ${cpus[0]?.model ?? '?'} × ${cpus.length}; RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${os.release()}`,
    `- load average (1/5/15 min) at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`,
    `- ${tools}`,
    ...nodeStartSettings(),
  ].join('\n');
}

/**
 * Settings that change what every node process pays before its first line: NODE_EXTRA_CA_CERTS
 * makes node 20 parse the certificate bundle at start (55 ms on the EPYC host), in backplan
 * and in `node -e 0` alike.
 */
function nodeStartSettings(): string[] {
  const set = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((name) => process.env[name]);
  return set.length > 0 ? [`- set for node: ${set.map((name) => `${name}=${process.env[name]}`).join(', ')}`] : [];
}

/** Prints the report and writes it to `<out>/<job>-<time>.md`; returns the file. */
export async function publish(job: string, out: string, title: string, sections: string[]): Promise<string> {
  const started = new Date();
  const text = [`# ${title} — ${started.toISOString()}`, '', ...sections].join('\n');
  process.stdout.write(text);
  await mkdir(out, { recursive: true });
  // Named by the minute; a second table in the same minute gets the seconds too, not the first's place.
  const stamp = started.toISOString().replace(/:/g, '');
  let file = join(out, `${job}-${stamp.slice(0, 15)}Z.md`);
  if (await exists(file)) file = join(out, `${job}-${stamp.slice(0, 17)}Z.md`);
  await writeFile(file, text, { flag: 'wx' });
  process.stderr.write(`written to ${file}\n`);
  return file;
}

const exists = (path: string) => access(path).then(() => true, () => false);
