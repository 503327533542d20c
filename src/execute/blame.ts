/**
 * Who is to blame when a command or pipeline fails: which stage caused it rather than lost its
 * reader or was killed by us, and the error that says so.
 */
import { basename } from 'node:path';
import { BackplanError } from '../errors.js';
import type { ErrorCode, ErrorDetails } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import type { Proc } from './lifetime.js';
import { renderCommand, renderPipeline } from './render.js';
import { CommandError } from './result.js';
import type { CommandResult } from './result.js';

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
const DISK_FULL_HINT = 'free space at the destination';

/** A stream around the processes failed (stdin, the output, a tap), not a process. */
export interface IoFailure {
  what: 'input' | 'output' | 'tap';
  error: unknown;
}

/** The error a finished run rejects with, if any: stopped by us, an IO failure, or the stage most to blame. */
export function failure(
  procs: Proc[],
  results: CommandResult[],
  stopped: 'aborted' | 'timeout' | undefined,
  io: IoFailure | undefined,
  opts: { display: string[][]; timeoutMs?: number },
): CommandError | undefined {
  const last = procs.length - 1;
  const whole = (code: ErrorCode, message: string, extra: ErrorDetails = {}) =>
    new CommandError(code, message, { command: renderPipeline(opts.display), ...extra }, results, last);
  const name = pipelineName(opts.display);

  if (stopped === 'aborted') return whole('INTERRUPTED', `${name} was interrupted`);
  if (stopped === 'timeout') {
    const stderrTail = results.map((r) => r.stderrTail).filter(Boolean).join('\n') || undefined;
    return whole('COMMAND_FAILED', `${name} timed out after ${formatDuration(opts.timeoutMs!)}`, { stderrTail });
  }
  if (io !== undefined) {
    const { code, hint } = diskFullOr(io.error);
    const verb = { output: 'writing the output of', input: 'reading the input of', tap: 'watching the stream of' }[io.what];
    return whole(code, `${verb} ${name} failed: ${messageOf(io.error)}`, { hint, cause: io.error });
  }
  const stage = culprit(procs);
  return stage === undefined ? undefined : stageFailure(procs[stage]!, stage, results, opts.display);
}

/** The failing stage most to blame; the first in pipeline order among equals. */
function culprit(procs: Proc[]): number | undefined {
  let best: number | undefined;
  procs.forEach((p, i) => {
    if (p.failed && (best === undefined || p.blame < procs[best]!.blame)) best = i;
  });
  return best;
}

function stageFailure(proc: Proc, stage: number, results: CommandResult[], display: string[][]): CommandError {
  const result = results[stage]!;
  const name = commandName(display[stage]!);
  const label = display.length > 1 ? `${name} (stage ${stage + 1} of ${display.length})` : name;
  const details: ErrorDetails = {
    command: renderCommand(display[stage]!),
    stderrTail: result.stderrTail || undefined,
  };
  const fail = (code: ErrorCode, message: string, hint?: string) =>
    new CommandError(code, message, { ...details, hint }, results, stage);

  const { spawnError } = proc;
  if (spawnError?.code === 'ENOENT') return fail('COMMAND_FAILED', `${label}: command not found`, `install ${name}`);
  if (spawnError) return fail('COMMAND_FAILED', `cannot run ${label}: ${spawnError.message}`);
  const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
  if (proc.tail.diskFull) return fail('DISK_FULL', `${label} ${how}: no space left on device`, DISK_FULL_HINT);
  return fail('COMMAND_FAILED', `${label} ${how}`);
}

export function writeFailure(path: string, e: unknown): BackplanError {
  const { code, hint } = diskFullOr(e);
  return new BackplanError(code, `writing ${path} failed: ${messageOf(e)}`, { hint, cause: e });
}

/** Reading back an output file to hash it (growing-file.ts) failed. */
export function readBackFailure(path: string, e: unknown): BackplanError {
  return new BackplanError('COMMAND_FAILED', `reading back ${path} to hash it failed: ${messageOf(e)}`, { cause: e });
}

function diskFullOr(e: unknown): { code: ErrorCode; hint?: string } {
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  return errno !== undefined && DISK_FULL_CODES.has(errno)
    ? { code: 'DISK_FULL', hint: DISK_FULL_HINT }
    : { code: 'COMMAND_FAILED' };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function commandName(argv: string[]): string {
  return basename(argv[0] ?? '');
}

export function pipelineName(display: string[][]): string {
  return display.map(commandName).join(' | ');
}
