/**
 * The subprocess layer: every external tool (pg_dump, tar, zstd, rsync, hooks) runs through here.
 *
 * Modelled on zx's ProcessOutput — a finished command is a value — but on child_process directly:
 * zx runs commands through a shell and keeps all of stdout in memory, while we stream multi-GB
 * dumps and must never let a shell interpret an argument.
 */
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { BackplanError } from '../errors.js';
import { discard } from '../util/discard.js';
import { failure, pipelineName, readBackFailure, writeFailure } from './blame.js';
import { hashGrowingFile } from './growing-file.js';
import type { GrowingFileHash } from './growing-file.js';
import type { IoFailure } from './blame.js';
import { Blame, Proc, watchStop } from './lifetime.js';
import type { CommandResult } from './result.js';
import { drainStdout, feedStdin, settleOutput, stdoutStdio } from './stdio.js';
import type { Output } from './stdio.js';
import { checkTap, joinThroughTap, TapError } from './tap.js';
import type { PipelineTap } from './tap.js';
import { openTapFifo } from './tap-fifo.js';
import type { TapFifo } from './tap-fifo.js';

export interface RunOptions {
  cwd?: string;
  /** Merged over process.env; a key set to undefined removes that variable. */
  env?: NodeJS.ProcessEnv;
  /** Aborting kills the process group and rejects with INTERRUPTED. */
  signal?: AbortSignal;
  /** Past this, the process group is killed and the run rejects with COMMAND_FAILED. */
  timeoutMs?: number;
  /** Default 'ignore'. */
  stdin?: 'ignore' | NodeJS.ReadableStream;
  /**
   * Default 'capture': the first MiB of stdout as a string (stdoutBytes still counts it all, so
   * a caller can tell truncation). A Writable is ended when the command succeeds and destroyed
   * (without an error event) when it fails, so a sink never looks complete after a failure.
   */
  stdout?: 'ignore' | 'capture' | Writable;
  onStderrLine?: (line: string) => void;
  /** Exit codes that count as success (rsync's 24, "files vanished"); default [0]. */
  okExitCodes?: number[];
  /** argv to show in errors, with secrets masked; default argv. */
  displayArgv?: string[];
}

export interface PipelineOptions
  extends Omit<RunOptions, 'stdout' | 'displayArgv' | 'onStderrLine' | 'okExitCodes'> {
  /**
   * Where the last stage's stdout goes. A Writable is treated as RunOptions.stdout is; a path
   * is created with mode 0o600, handed to the last stage as its stdout (the bytes never pass
   * through JS) and fsynced before the pipeline resolves; 'ignore' with a tap on the last stage:
   * the tap is all that reads it.
   */
  output: Writable | string | 'ignore';
  /**
   * With a path output whose writer only appends (a compressor, age, tar; not pg_dump, which
   * seeks back in a file): the file is hashed as it grows, into the last result's stdoutSha256.
   */
  hashOutput?: boolean;
  /** Extra environment per stage, by index, merged over `env` (e.g. PGPASSWORD for pg_dump only). */
  stageEnv?: (NodeJS.ProcessEnv | undefined)[];
  /** Per-stage argv to show in errors, with secrets masked; default the stages. */
  displayStages?: string[][];
  onStderrLine?: (line: string, stage: number) => void;
  /** Per stage, by index: exit codes that count as success (GNU tar's 1); default [0]. */
  okExitCodes?: (number[] | undefined)[];
  /**
   * Shows JS every chunk stage `after` writes, before the next stage (or a Writable output) gets
   * it: counting what tar archives from its own stream is far cheaper than making tar list it.
   * Those two stages are then joined through node instead of the kernel (a FIFO, tap-fifo.ts).
   * A chunk is valid only during the call. A throwing onChunk fails the pipeline as an IO failure.
   */
  tap?: PipelineTap;
}

/** Runs one command without a shell; resolves with its result, rejects with a BackplanError. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<CommandResult & { stdout?: string }> {
  const execOpts = { ...opts, display: [opts.displayArgv ?? argv], okExitCodes: [opts.okExitCodes] };
  const { results, stdout } = await execute([argv], execOpts, opts.stdout ?? 'capture');
  return stdout === undefined ? results[0]! : { ...results[0]!, stdout };
}

/**
 * Runs `stages[0] | stages[1] | …` without a shell: each stage's stdout is the next one's stdin
 * at the OS level (but for a tapped pair, joined through node). If a stage fails the others are
 * killed, and the error names the stage that caused it rather than one that merely lost its
 * reader (SIGPIPE) or was killed by us.
 */
export async function pipeline(stages: string[][], opts: PipelineOptions): Promise<CommandResult[]> {
  const execOpts = { ...opts, display: opts.displayStages ?? stages };
  checkTap(opts.tap, stages.length, opts.output);
  const { output } = opts;
  if (typeof output !== 'string' || output === 'ignore') {
    if (opts.hashOutput) throw new TypeError('hashOutput needs a path output');
    return (await execute(stages, execOpts, output)).results;
  }
  const path = output;
  const file = await open(path, 'w', 0o600).catch((e: unknown) => {
    throw writeFailure(path, e);
  });
  const executed = execute(stages, execOpts, file.fd);
  const hashed = opts.hashOutput ? hashGrowingFile(path, executed) : undefined;
  try {
    const { results } = await executed;
    const last = results.at(-1)!;
    await file.sync().catch((e: unknown) => {
      throw writeFailure(path, e);
    });
    last.stdoutBytes = (await file.stat()).size;
    if (hashed) last.stdoutSha256 = await checkedDigest(path, hashed, last.stdoutBytes);
    return results;
  } finally {
    hashed?.cancel();
    await file.close();
  }
}

/** The growing file's digest, once it is sure to cover the whole file. */
async function checkedDigest(path: string, hashed: GrowingFileHash, size: number): Promise<string> {
  const { sha256, bytes } = await hashed.done().catch((e: unknown) => {
    throw readBackFailure(path, e);
  });
  if (bytes !== size) throw new Error(`hashed ${bytes} bytes of ${path}, which holds ${size}`);
  return sha256;
}

interface ExecOptions extends Omit<PipelineOptions, 'output' | 'displayStages'> {
  display: string[][];
}

async function execute(
  stages: string[][],
  opts: ExecOptions,
  output: Output,
): Promise<{ results: CommandResult[]; stdout?: string }> {
  if (opts.signal?.aborted) {
    throw new BackplanError('INTERRUPTED', `${pipelineName(opts.display)} was interrupted before it started`);
  }
  const { tap } = opts;
  const last = stages.length - 1;
  // A tap on the last stage with nowhere else to go reads its FIFO into one reused buffer too.
  const tapsLast = tap?.after === last && output === 'ignore';
  const fifo = tap && (tap.after < last || tapsLast) ? await openTapFifo() : undefined;
  // Without a FIFO, the tap reads the stage's stdout socket and the bytes are dropped after it.
  if (tapsLast && !fifo) output = discard();
  let procs: Proc[];
  try {
    procs = spawnAll(stages, opts, output, fifo?.writeFd);
  } catch (e) {
    fifo?.dispose();
    throw e;
  }
  fifo?.closeWriteEnd();
  const stopAll = () => procs.forEach((p) => p.terminate());
  const stop = watchStop(opts, stopAll);
  let io: IoFailure | undefined;
  const ioFailed = (what: IoFailure['what']) => (error: unknown) => {
    io ??= error instanceof TapError ? { what: 'tap', error: error.error } : { what, error };
    stopAll();
  };
  // A failure stops the other stages; but a stage that lost its reader leaves the stages after
  // it alone: they are already ending, and killing them would hide which failed and how.
  procs.forEach((p, i) => {
    void p.closed.then(() => {
      if (!p.failed) return;
      const upstreamOnly = p.blame === Blame.ReaderGone;
      procs.forEach((q, j) => {
        if (j < i || !upstreamOnly) q.terminate();
      });
    });
  });
  if (opts.stdin !== undefined && opts.stdin !== 'ignore') feedStdin(opts.stdin, procs[0]!.child, ioFailed('input'));
  const tapped = tap && tap.after < last ? joinTapped(procs, tap, fifo, ioFailed('tap')) : tapsLast && fifo ? fifo.drain(tap.onChunk, ioFailed('tap')) : undefined;
  const drained = drainStdout(procs[last]!.child.stdout, output, ioFailed('output'), tap?.after === last ? tap.onChunk : undefined);

  await Promise.all(procs.map((p) => p.closed));
  const { bytes, text } = await drained;
  const tappedBytes = await tapped;
  stop.dispose();
  const ok = stop.reason() === undefined && io === undefined && !procs.some((p) => p.failed);
  const settleError = await settleOutput(output, ok);
  if (settleError !== undefined) io ??= { what: 'output', error: settleError };

  const results = procs.map((p, i) => p.result(i === tap?.after && tapped ? tappedBytes! : i === last ? bytes : 0));
  const error = failure(procs, results, stop.reason(), io, opts);
  if (error) throw error;
  return { results, stdout: text };
}

/** The tapped pair joined through the FIFO made for it, or else through the stage's stdout socket. */
function joinTapped(procs: Proc[], tap: PipelineTap, fifo: TapFifo | undefined, onError: (e: unknown) => void): Promise<number> {
  const to = procs[tap.after + 1]!;
  return fifo ? fifo.join(to, tap.onChunk, onError) : joinThroughTap(procs[tap.after]!, to, tap.onChunk, onError);
}

/** `tapFd`: the tapped stage's stdout, when it writes into a FIFO of ours. */
function spawnAll(stages: string[][], opts: ExecOptions, output: Output, tapFd?: number): Proc[] {
  const procs: Proc[] = [];
  try {
    stages.forEach((argv, i) => {
      // A tapped stage's stdout stays ours: joinThroughTap feeds this stage's stdin from it.
      const tapped = opts.tap !== undefined && i === opts.tap.after + 1;
      const previous = tapped ? undefined : procs[i - 1]?.child.stdout;
      const stdin = previous ?? (tapped || (opts.stdin !== undefined && opts.stdin !== 'ignore') ? 'pipe' : 'ignore');
      const stdout = i === opts.tap?.after && tapFd !== undefined ? tapFd : i < stages.length - 1 ? 'pipe' : stdoutStdio(output);
      const env = { ...process.env, ...opts.env, ...opts.stageEnv?.[i] };
      const onLine = (line: string) => opts.onStderrLine?.(line, i);
      const okExitCodes = opts.okExitCodes?.[i] ?? [0];
      procs.push(new Proc(argv, [stdin, stdout, 'pipe'], { env, cwd: opts.cwd, okExitCodes }, onLine));
      // The new child holds its own copy of the pipe now. Ours must go in this same tick: left
      // open, our socket would compete with the child for the bytes, and the previous stage
      // would block instead of failing to write when this one dies.
      previous?.destroy();
    });
  } catch (e) {
    procs.forEach((p) => p.terminate());
    throw e;
  }
  return procs;
}
