/**
 * Live processes to name in a hand-written `.lock`: one that passes for a backplan run (its argv
 * names backplan's CLI, as `node …/backplan.cjs run` does) and one that does not (`sleep 60`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { cliPath } from './profile.js';

export interface Holder {
  pid: number;
  child: ChildProcess;
  /** The lock such a process would have written, `startedAt` now unless given. */
  lock(startedAt?: string): string;
  /** SIGKILLs it and waits until it is gone (reaped). */
  stop(): Promise<void>;
}

export function spawnHolder(kind: 'backplan' | 'other'): Holder {
  const child =
    kind === 'backplan'
      ? spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', cliPath, 'run', 'holder.yaml'], { stdio: 'ignore' })
      : spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid!;
  return {
    pid,
    child,
    lock: (startedAt = new Date().toISOString()) => JSON.stringify({ pid, host: hostname(), startedAt, job: 'holder-job' }) + '\n',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
