/**
 * The real backplan binary as a child the test can signal, and the processes it leaves behind.
 *
 * Every spawned run carries BACKPLAN_TEST_MARK=<dir> in its environment, and children inherit
 * it (pg_dump, tar, zstd, hooks), so `/proc` tells which processes belong to a test even when
 * their argv names no test path (pg_dump, zstd) and they outlived a SIGKILLed backplan.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { cliPath } from './profile.js';

export const MARK_VAR = 'BACKPLAN_TEST_MARK';

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface SpawnedCli {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout+stderr contain a match; rejects if the process exits first or after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<Exited>;
}

/**
 * Spawns `node dist/bin/backplan.cjs ARGS` in `cwd` (children inherit it), marked with `mark`.
 * Not detached: the test signals this one process, as a shell or systemd would.
 */
export function spawnCli(args: string[], opts: { cwd: string; mark: string; env?: NodeJS.ProcessEnv }): SpawnedCli {
  const started = Date.now();
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, [MARK_VAR]: opts.mark };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let closed = false;
  const waiters: { pattern: RegExp; done: (error?: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (w.pattern.test(out) || w.pattern.test(err)) w.done();
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => ((out += s), check()));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => ((err += s), check()));
  const exited = new Promise<Exited>((resolve) =>
    child.on('close', (code, signal) => {
      closed = true;
      for (const w of [...waiters]) w.done(new Error(`exited (${code ?? signal}) before ${w.pattern} appeared; stderr:\n${err}`));
      resolve({ code, signal, stdout: out, stderr: err, ms: Date.now() - started });
    }),
  );
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          pattern,
          done: (error?: Error) => {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(waiter), 1);
            if (error) reject(error);
            else resolve();
          },
        };
        const timer = setTimeout(() => waiter.done(new Error(`no ${pattern} within ${timeoutMs}ms; stderr:\n${err}`)), timeoutMs);
        waiters.push(waiter);
        check();
        if (closed && waiters.includes(waiter)) waiter.done(new Error(`exited before ${pattern} appeared; stderr:\n${err}`));
      });
    },
  };
}

export interface ProcInfo {
  pid: number;
  cmdline: string;
  cwd?: string;
  /** The process carries the mark in its environment. */
  marked: boolean;
}

/** Live (non-zombie) processes other than this one whose argv, cwd or environment names `mark`. */
export async function processesOf(mark: string): Promise<ProcInfo[]> {
  const found: ProcInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const base = `/proc/${name}`;
    try {
      const stat = await readFile(`${base}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      const cmdline = (await readFile(`${base}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      const cwd = await readlink(`${base}/cwd`).catch(() => undefined);
      const environ = await readFile(`${base}/environ`, 'utf8').catch(() => '');
      const marked = environ.split('\0').includes(`${MARK_VAR}=${mark}`);
      if (marked || cmdline.includes(mark) || cwd?.startsWith(mark)) found.push({ pid: Number(name), cmdline, cwd, marked });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** Every /proc/PID/cmdline right now, for secret scans. */
export async function allCmdlines(): Promise<string[]> {
  const lines: string[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline) lines.push(cmdline.split('\0').join(' '));
  }
  return lines;
}

/** SIGKILLs whatever `mark` left running and waits until it is gone; returns what it killed. */
export async function killLeftovers(mark: string, timeoutMs = 10_000): Promise<ProcInfo[]> {
  const killed: ProcInfo[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await processesOf(mark);
    if (left.length === 0) return killed;
    if (Date.now() > deadline) throw new Error(`processes of ${mark} survive SIGKILL: ${left.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
    for (const p of left) {
      if (!killed.some((k) => k.pid === p.pid)) killed.push(p);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until no process of `mark` is left (children exiting after their parent), or gives up. */
export async function settledProcesses(mark: string, timeoutMs: number): Promise<ProcInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await processesOf(mark);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** mulberry32: a small seeded PRNG, so a failing random kill point can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
