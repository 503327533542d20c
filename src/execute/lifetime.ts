/**
 * How long a process lives: spawned in its own process group, stopped on abort or timeout with
 * SIGTERM to the whole group, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { CommandResult } from './result.js';
import { ownGroupSpawn } from './own-group.js';
import { StderrTail } from './stderr-tail.js';

/** How much a stage's failure is its own; the culprit of a pipeline is the lowest, then the first. */
export const enum Blame {
  /** It failed by itself. */
  Own,
  /** It exited by itself (not by our signal) after we had signalled it: maybe its own failure. */
  ExitedAfterOurSignal,
  /** Our signal killed it: it failed because another stage did. */
  OurSignal,
  /**
   * The stage after it stopped reading: the cause lies downstream. Node connects stages with
   * socketpairs, not pipes, so a writer whose reader is gone gets SIGPIPE only if the reader had
   * drained the socket, and otherwise ECONNRESET, which tools report as "Connection reset by
   * peer" and an exit code; hence the stderr check.
   */
  ReaderGone,
}

const KILL_GRACE_MS = 3000;

/** One spawned process, in its own process group so that a kill reaches its children too. */
export class Proc {
  readonly child: ChildProcess;
  readonly tail: StderrTail;
  /** Resolves once the process has exited and its stdio closed; never rejects. */
  readonly closed: Promise<void>;
  /** Why the process could not be started (ENOENT: no such tool). */
  spawnError?: NodeJS.ErrnoException;
  private durationMs = 0;
  private isClosed = false;
  private stopping = false;
  /** We signalled it before it exited, so its death may be our doing. */
  private signalledWhileRunning = false;
  private killTimer?: NodeJS.Timeout;

  constructor(
    readonly argv: string[],
    stdio: StdioOptions,
    private readonly opts: { env: NodeJS.ProcessEnv; cwd?: string; okExitCodes: number[] },
    onLine: (line: string) => void,
  ) {
    if (argv.length === 0) throw new TypeError('cannot run an empty argv');
    const startedAt = performance.now();
    // Its own process group, which we kill as a whole (a pg_dump -j's workers, a hook's
    // children). It also keeps a terminal's Ctrl-C away from it: the CLI turns SIGINT into an
    // abort, which stops the children in order.
    const { cwd, env } = opts;
    const how = ownGroupSpawn(argv, env);
    this.child = spawn(how.command, how.args, { cwd, env: how.env, stdio, shell: false, detached: how.detached });
    this.tail = new StderrTail(onLine);
    this.child.stderr!.on('data', (chunk: Buffer) => this.tail.push(chunk));
    this.child.on('error', (e) => (this.spawnError = e));
    this.closed = new Promise((resolve) =>
      this.child.on('close', () => {
        this.durationMs = performance.now() - startedAt;
        this.isClosed = true;
        this.tail.end();
        this.sweep();
        resolve();
      }),
    );
  }

  get failed(): boolean {
    const { exitCode } = this.child;
    return this.spawnError !== undefined || exitCode === null || !this.opts.okExitCodes.includes(exitCode);
  }

  /** How much a failure is this process's own (see Blame). */
  get blame(): Blame {
    const { exitCode, signalCode } = this.child;
    if (signalCode === 'SIGPIPE' || exitCode === 128 + 13 || this.tail.readerGone) return Blame.ReaderGone;
    if (!this.signalledWhileRunning) return Blame.Own;
    return signalCode === null ? Blame.ExitedAfterOurSignal : Blame.OurSignal;
  }

  result(stdoutBytes: number): CommandResult {
    return {
      argv: this.argv,
      exitCode: this.spawnError ? null : this.child.exitCode,
      signal: this.child.signalCode,
      stderrTail: this.tail.text(),
      durationMs: Math.round(this.durationMs),
      stdoutBytes,
    };
  }

  /** SIGTERM to the group, SIGKILL after a grace period. Idempotent. */
  terminate(): void {
    const pid = this.child.pid;
    // Once closed, the pid may belong to someone else.
    if (pid === undefined || this.stopping || this.isClosed) return;
    this.stopping = true;
    this.signalledWhileRunning = this.child.exitCode === null && this.child.signalCode === null;
    this.signal(pid, 'SIGTERM');
    this.killTimer = setTimeout(() => this.signal(pid, 'SIGKILL'), KILL_GRACE_MS);
  }

  /**
   * To the process's group; to the process alone while it has none yet (own-group.ts: its
   * launcher makes the group a moment after spawn) and has not exited (its pid is still ours).
   */
  private signal(pid: number, signal: NodeJS.Signals): void {
    const exited = this.child.exitCode !== null || this.child.signalCode !== null;
    if (!sendSignal(-pid, signal) && !exited) sendSignal(pid, signal);
  }

  /** Once a process we stopped is gone, whatever is left of its group outlived SIGTERM: kill it. */
  private sweep(): void {
    clearTimeout(this.killTimer);
    if (this.stopping) sendSignal(-this.child.pid!, 'SIGKILL');
  }
}

/** process.kill, false when there is no such process or group. */
function sendSignal(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    return false;
  }
}

/** Abort signal and timeout, both of which stop every process of a run. */
export function watchStop(opts: { signal?: AbortSignal; timeoutMs?: number }, stopAll: () => void) {
  let reason: 'aborted' | 'timeout' | undefined;
  const stop = (why: 'aborted' | 'timeout') => {
    reason ??= why;
    stopAll();
  };
  const onAbort = () => stop('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), opts.timeoutMs);
  return {
    reason: () => reason,
    dispose() {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    },
  };
}
