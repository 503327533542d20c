import type { RunEvent } from '../execute/events.js';
import { formatDuration } from '../util/duration.js';
import { textTable } from '../util/table.js';
import { formatBytes } from '../util/bytes.js';
import type { RunSummary } from './run.js';

export type Reporter = { onEvent(event: RunEvent): void; close(): void };

/** `--json`: one event per line on stdout, nothing else there. */
export function jsonReporter(write: (s: string) => void): Reporter {
  return { onEvent: (e) => write(JSON.stringify(e) + '\n'), close: () => undefined };
}

/** Not a terminal (cron, CI logs): one plain line per start, end and warning. */
export function lineReporter(write: (s: string) => void): Reporter {
  return {
    onEvent(e) {
      const line = describe(e);
      if (line) write(`${e.at} ${line}\n`);
    },
    close: () => undefined,
  };
}

/**
 * A terminal: the running steps redrawn in place with bytes and rate, finished ones printed
 * above them. Colour only when NO_COLOR is unset.
 */
export function terminalReporter(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Reporter {
  const colour = env.NO_COLOR === undefined || env.NO_COLOR === '';
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const running = new Map<string, { started: number; bytes: number }>();
  let drawn = 0;
  const redraw = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[0J`);
    const now = Date.now();
    const lines = [...running].map(([id, r]) => {
      const secs = (now - r.started) / 1000;
      const rate = r.bytes > 0 && secs > 0 ? `  ${formatBytes(r.bytes / secs)}/s` : '';
      return `  ${paint('36', '…')} ${id.padEnd(14)} ${formatDuration(now - r.started).padStart(7)}  ${r.bytes ? formatBytes(r.bytes) : ''}${rate}`;
    });
    for (const l of lines) stream.write(l + '\n');
    drawn = lines.length;
  };
  const timer = setInterval(redraw, 500);
  timer.unref();
  return {
    onEvent(e) {
      if (e.type === 'step-start') running.set(e.step, { started: Date.parse(e.at), bytes: 0 });
      if (e.type === 'step-progress' && running.has(e.step)) running.get(e.step)!.bytes = e.bytes;
      if (e.type === 'step-end') running.delete(e.step);
      const line = describe(e);
      if (e.type !== 'step-start' && e.type !== 'step-progress' && line) {
        if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[0J`);
        drawn = 0;
        const mark = e.type === 'step-end' ? (e.status === 'ok' ? paint('32', '✓') : e.status === 'failed' ? paint('31', '✗') : paint('33', '-')) : ' ';
        stream.write(`${mark} ${line}\n`);
      }
      redraw();
    },
    close() {
      clearInterval(timer);
      if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[0J`);
      drawn = 0;
    },
  };
}

function describe(e: RunEvent): string | undefined {
  switch (e.type) {
    case 'run-start':
      return `run ${e.job}: snapshot ${e.snapshot} (${e.kind}${e.reason ? `: ${e.reason}` : ''}), ${e.steps} steps`;
    case 'step-start':
      return `start ${e.step} (${e.kind})`;
    case 'step-log':
      return e.level === 'warn' ? `${e.step}: ${e.message}` : undefined;
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
      return undefined;
  }
}

/** The table printed after a run: each step's status, duration and bytes. */
export function summaryTable(summary: RunSummary): string {
  const rows = summary.records.map((r) => [r.id, r.status, formatDuration(r.durationMs), r.bytes ? formatBytes(r.bytes) : '']);
  return textTable(['step', 'status', 'time', 'bytes'], rows);
}

