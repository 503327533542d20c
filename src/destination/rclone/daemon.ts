/**
 * One `rclone rcd` per destination root and environment, for the life of the process, spoken to
 * over HTTP on 127.0.0.1: an rclone process costs 100–200 ms to start (config, HTTP client), and a
 * run makes dozens of calls. The root is the daemon's alias remote `backplan_root:`, so every fs
 * string and URL is ours alone and a root holding `]` or spaces needs no quoting.
 *
 * Its credentials are random per daemon and passed through its environment only (never argv).
 * It cannot outlive backplan: `setpriv --pdeathsig KILL` has the kernel kill it when we die
 * (kill -9 included), and the exit handler kills it on a normal exit. It runs in its own process
 * group, so a terminal's Ctrl-C reaches backplan alone, which still needs rclone to release its lock.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BackplanError } from '../../errors.js';

/** The alias remote naming the destination's root inside the daemon. */
export const ROOT_REMOTE = 'backplan_root';
const STARTUP_MS = 30_000;
/** The NOTICE rclone logs once it listens, with the port it was given. */
const SERVING = /Serving remote control on (http:\/\/[^\s/]+)/;

export interface RcDaemon {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  authorization: string;
  /** Its last stderr lines, for when a call finds it gone. */
  tail(): string;
}

const daemons = new Map<string, Promise<RcDaemon>>();
const running = new Set<ChildProcess>();

/** The daemon for `target` (`remote:path`) under `env`, started at first use. */
export function rcDaemon(target: string, env: NodeJS.ProcessEnv): Promise<RcDaemon> {
  // BACKPLAN_* (staging, grace) are no business of rclone's: they do not split daemons.
  const key = JSON.stringify([target, Object.entries(env).filter(([k]) => !k.startsWith('BACKPLAN_')).sort()]);
  let daemon = daemons.get(key);
  if (!daemon) {
    // Once it is gone (stopped, crashed), the next call starts another.
    const forget = () => daemons.get(key) === started && daemons.delete(key);
    const started = start(target, env, forget);
    started.catch(forget);
    daemons.set(key, (daemon = started));
  }
  return daemon;
}

/** Stops every daemon (a library caller ending; the CLI just exits). */
export async function stopRcDaemons(): Promise<void> {
  daemons.clear();
  await Promise.all([...running].map((child) => new Promise((resolve) => (child.once('close', resolve), child.kill('SIGKILL')))));
}

function killAllNow(): void {
  for (const child of running) child.kill('SIGKILL');
}

function start(target: string, env: NodeJS.ProcessEnv, onGone: () => void): Promise<RcDaemon> {
  const user = randomBytes(12).toString('hex');
  const pass = randomBytes(24).toString('hex');
  const daemonEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // A user's RCLONE_RC_* (no auth, a base URL, a log file) would change what we talk to.
  for (const k of Object.keys(daemonEnv)) if (/^RCLONE_(RC_|LOG_FILE|USE_JSON_LOG)/.test(k)) delete daemonEnv[k];
  Object.assign(daemonEnv, {
    RCLONE_RC_USER: user,
    RCLONE_RC_PASS: pass,
    [`RCLONE_CONFIG_${ROOT_REMOTE.toUpperCase()}_TYPE`]: 'alias',
    [`RCLONE_CONFIG_${ROOT_REMOTE.toUpperCase()}_REMOTE`]: target,
  });
  // Few retries, as the per-call rclone had: a backup from cron must fail, not hang. But no
  // server timeouts: an upload lasts as long as its dump takes to make.
  const argv = ['--pdeathsig', 'KILL', 'rclone', 'rcd', '--rc-addr', '127.0.0.1:0', '--rc-serve', '--log-level', 'NOTICE', '--contimeout', '10s', '--low-level-retries', '3'];
  argv.push('--rc-server-read-timeout', '8760h', '--rc-server-write-timeout', '8760h');
  const child = spawn('setpriv', argv, { env: daemonEnv, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  if (running.size === 0) process.once('exit', killAllNow);
  running.add(child);
  // Waiting for it keeps the process alive; once it serves, only calls do.
  child.unref();
  const lines: string[] = [];
  return new Promise<RcDaemon>((resolve, reject) => {
    const timer = setTimeout(() => fail(`rclone rcd did not start within ${STARTUP_MS / 1000}s`), STARTUP_MS);
    timer.unref();
    let pending = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      const parts = (pending + text).split('\n');
      pending = parts.pop()!;
      for (const line of parts) {
        lines.push(line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
        if (lines.length > 20) lines.shift();
        const m = SERVING.exec(line);
        if (m) {
          clearTimeout(timer);
          (child.stderr as unknown as { unref(): void }).unref();
          resolve({ url: m[1]!, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, tail: () => lines.join('\n') });
        }
      }
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') return fail(e.message);
      clearTimeout(timer);
      reject(new BackplanError('COMMAND_FAILED', 'setpriv is not installed', { hint: 'install util-linux: rclone is started through its setpriv, so that it never outlives backplan' }));
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (running.size === 0) process.removeListener('exit', killAllNow);
      onGone();
      fail(`rclone rcd exited (${code ?? signal})`);
    });
    function fail(why: string): void {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const last = lines.at(-1) ?? '';
      if (/failed to execute rclone/.test(last)) {
        reject(new BackplanError('COMMAND_FAILED', 'rclone is not installed', { hint: 'install rclone (apt-get install rclone) and put it on PATH' }));
      } else {
        reject(new BackplanError('COMMAND_FAILED', `${why}${last ? `: ${last}` : ''}`, { stderrTail: lines.join('\n') }));
      }
    }
  });
}
