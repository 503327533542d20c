import type { RunEvent } from '../execute/events.js';
import { formatDuration } from '../util/duration.js';
import { textTable } from '../util/table.js';
import { formatBytes } from '../util/bytes.js';
import type { RunSummary } from './run.js';

export type Reporter = { onEvent(event: RunEvent): void; close(): void };

/**
 * How much a human reporter says. quiet: failures and the run's end; normal: also every step's
 * start and end, warnings and what hooks and user steps print; verbose: every step's own notes.
 */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

export interface ReporterOptions {
  verbosity?: Verbosity;
  /** Not a terminal: how often to print a progress line for each running step (0: never). */
  progressEveryMs?: number;
}

/** `--json`: one event per line on stdout, nothing else there. */
export function jsonReporter(write: (s: string) => void): Reporter {
  return { onEvent: (e) => write(JSON.stringify(e) + '\n'), close: () => undefined };
}

/**
 * Not a terminal (cron, systemd, CI logs): one plain line per event worth reading, and for a
 * long step a progress line at a steady interval, so a six-hour dump is not six silent hours.
 */
export function lineReporter(write: (s: string) => void, opts: ReporterOptions = {}): Reporter {
  const says = describer(opts.verbosity ?? 'normal');
  const running = new RunningSteps();
  const every = opts.progressEveryMs ?? 0;
  const timer = every > 0 ? setInterval(() => running.lines().forEach((l) => write(`${new Date().toISOString()} ${l}\n`)), every) : undefined;
  timer?.unref();
  return {
    onEvent(e) {
      running.track(e);
      const line = says(e);
      if (line) write(`${e.at} ${line}\n`);
    },
    close: () => clearInterval(timer),
  };
}

/**
 * A terminal: the running steps redrawn in place with bytes and rate, finished ones printed
 * above them. Colour only when NO_COLOR is unset.
 */
export function terminalReporter(stream: NodeJS.WriteStream, opts: ReporterOptions = {}, env: NodeJS.ProcessEnv = process.env): Reporter {
  const colour = env.NO_COLOR === undefined || env.NO_COLOR === '';
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const says = describer(opts.verbosity ?? 'normal');
  const running = new RunningSteps();
  let drawn = 0;
  const erase = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const redraw = () => {
    erase();
    const lines = running.lines().map((l) => `  ${paint('36', '…')} ${l}`);
    for (const l of lines) stream.write(l + '\n');
    drawn = lines.length;
  };
  const timer = setInterval(redraw, 500);
  timer.unref();
  return {
    onEvent(e) {
      running.track(e);
      const line = e.type === 'step-start' ? undefined : says(e);
      if (line) {
        erase();
        const mark = e.type === 'step-end' ? (e.status === 'ok' ? paint('32', '✓') : e.status === 'failed' ? paint('31', '✗') : paint('33', '-')) : ' ';
        stream.write(`${mark} ${line}\n`);
      }
      redraw();
    },
    close() {
      clearInterval(timer);
      erase();
    },
  };
}

/** The steps running now, with what they have written: `db-dump  2m03s  1.2 GiB  10 MiB/s`. */
class RunningSteps {
  private readonly steps = new Map<string, { kind: string; started: number; bytes: number }>();

  track(e: RunEvent): void {
    if (e.type === 'step-start') this.steps.set(e.step, { kind: e.kind, started: Date.parse(e.at), bytes: 0 });
    if (e.type === 'step-progress' && this.steps.has(e.step)) this.steps.get(e.step)!.bytes = e.bytes;
    if (e.type === 'step-end') this.steps.delete(e.step);
  }

  lines(now = Date.now()): string[] {
    return [...this.steps].map(([id, r]) => {
      const secs = (now - r.started) / 1000;
      const rate = r.bytes > 0 && secs > 0 ? `  ${formatBytes(r.bytes / secs)}/s` : '';
      return `${id.padEnd(14)} ${formatDuration(now - r.started).padStart(7)}  ${r.bytes ? formatBytes(r.bytes) : ''}${rate}`.trimEnd();
    });
  }
}

/** Step kinds whose output is the user's own command's (a hook, a user step): shown by default. */
const COMMAND_KINDS = new Set(['hook', 'exec']);

function describer(verbosity: Verbosity): (e: RunEvent) => string | undefined {
  const kinds = new Map<string, string>();
  return (e) => {
    if (e.type === 'step-start') kinds.set(e.step, e.kind);
    if (verbosity === 'quiet' && !(e.type === 'run-end' || (e.type === 'step-end' && e.status === 'failed'))) return undefined;
    if (e.type === 'step-log' && e.level === 'info' && verbosity !== 'verbose' && !COMMAND_KINDS.has(kinds.get(e.step) ?? '')) return undefined;
    return describe(e);
  };
}

function describe(e: RunEvent): string | undefined {
  switch (e.type) {
    case 'run-start':
      return `run ${e.job}: snapshot ${e.snapshot} (${e.kind}${e.reason ? `: ${e.reason}` : ''}), ${e.steps} steps`;
    case 'step-start':
      return `start ${e.step} (${e.kind})`;
    case 'step-log':
      return `${e.step}: ${e.message}`;
    case 'step-end': {
      const size = e.bytes ? `, ${formatBytes(e.bytes)}` : '';
      const why = e.error ? `: ${e.error}` : '';
      return `${e.status === 'ok' ? 'done' : e.status} ${e.step} (${formatDuration(e.durationMs)}${size})${why}`;
    }
    case 'run-end':
      return `run ${e.status} in ${formatDuration(e.durationMs)}${e.snapshot ? `: ${e.snapshot}` : ''}`;
    case 'notify':
      return e.ok ? undefined : `monitoring ping "${e.state}" failed after ${e.attempts} attempt(s): ${e.error} (the backup is not affected)`;
    case 'step-progress':
    case 'plan':
    case 'error':
      return undefined;
  }
}

/** The table printed after a run: each step's status, duration and bytes. */
export function summaryTable(summary: RunSummary): string {
  const rows = summary.records.map((r) => [r.id, r.status, formatDuration(r.durationMs), r.bytes ? formatBytes(r.bytes) : '']);
  return textTable(['step', 'status', 'time', 'bytes'], rows);
}
