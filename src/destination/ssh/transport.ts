/**
 * The ssh transport of remote destinations (`user@host:/path`). Every remote operation is one of
 * the fixed POSIX sh scripts in ./scripts.ts, run as `sh -c SCRIPT backplan-OP ARG…` with every
 * argument single-quoted: ssh hands the remote login shell one string, so nothing taken from a
 * manifest is ever parsed as shell syntax on the far side. The remote needs a POSIX shell and
 * GNU coreutils/findutils (sha256sum, stat -c, mv -T, find -printf), as any Linux host has.
 *
 * The ssh client is `BACKPLAN_SSH_COMMAND` (split on spaces, like GIT_SSH_COMMAND) or `ssh`,
 * always in batch mode: a backup from cron must fail, not wait for a password prompt. A run
 * makes a dozen remote calls; they share one connection (ControlMaster, a socket in a private
 * temp folder), so that only the first pays for the handshake.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BackplanError } from '../../errors.js';
import { CommandError } from '../../execute/result.js';
import { run } from '../../execute/subprocess.js';
import { SCRIPTS } from './scripts.js';
import type { RemoteOp } from './scripts.js';

/** A folder on another host, reached over ssh: `user@host:/path` or `host:/path`. */
export interface RemotePath {
  host: string;
  path: string;
}

/**
 * `user@host:/path` or `host:/path` means ssh. A host starting with `-` is not one: it would
 * reach ssh as an option.
 */
export function parseRemotePath(spec: string): RemotePath | undefined {
  const m = /^((?:[^@/:\s-][^@/:\s]*@)?[^/:\s-][^/:\s]*):(.*)$/.exec(spec);
  return m ? { host: m[1]!, path: m[2]! } : undefined;
}

export function remoteSpec(remote: RemotePath): string {
  return `${remote.host}:${remote.path}`;
}

/** ssh's own exit code when it could not connect or authenticate. */
const SSH_FAILED = 255;

/** How long the shared connection outlives its last use, should closeSshConnections not run. */
const PERSIST_SECONDS = 10;
let controlDir: string | undefined;
/** Each host reached, with the client that reached it, to end its shared connection. */
const hostsUsed = new Map<string, string[]>();

/** The ssh client argv, from the environment a destination was opened with. */
export function sshCommand(env: NodeJS.ProcessEnv): string[] {
  const custom = env.BACKPLAN_SSH_COMMAND?.trim();
  const shared = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${join(ensureControlDir(), '%C')}`, '-o', `ControlPersist=${PERSIST_SECONDS}`];
  return [...(custom ? custom.split(/ +/) : ['ssh']), '-o', 'BatchMode=yes', ...shared];
}

/**
 * A socket's path fits in 104 bytes on BSDs, 108 on Linux. ssh binds the control socket at the
 * ControlPath plus `.` and 16 random characters, and %C is 40 hex digits.
 */
const SOCKET_PATH_MAX = 103;
const CONTROL_NAME_MAX = 40 + 17;
const CONTROL_DIR_PREFIX = 'backplan-ssh-';

/**
 * Where the control folder goes: the temp folder, or /tmp when a long TMPDIR would leave no room
 * for the socket's name (ssh would refuse: "path ... too long for Unix domain socket").
 */
function controlDirParent(temp: string): string {
  const folder = join(temp, `${CONTROL_DIR_PREFIX}XXXXXX`);
  return Buffer.byteLength(folder) + 1 + CONTROL_NAME_MAX <= SOCKET_PATH_MAX ? temp : '/tmp';
}

function ensureControlDir(): string {
  if (controlDir === undefined) {
    controlDir = mkdtempSync(join(controlDirParent(tmpdir()), CONTROL_DIR_PREFIX));
    // The CLI exits without waiting for anyone: the connections end with the process.
    process.once('exit', endConnectionsNow);
  }
  return controlDir;
}

function endConnectionsNow(): void {
  if (controlDir === undefined) return;
  for (const [host, ssh] of hostsUsed) spawnSync(ssh[0]!, [...ssh.slice(1), '-O', 'exit', '--', host], { stdio: 'ignore', timeout: 5000 });
  hostsUsed.clear();
  rmSync(controlDir, { recursive: true, force: true });
  controlDir = undefined;
}

/** Ends the shared connections this process opened (best effort: they would expire anyway). */
export async function closeSshConnections(): Promise<void> {
  const dir = controlDir;
  if (dir === undefined) return;
  await Promise.all([...hostsUsed].map(([host, ssh]) => run([...ssh, '-O', 'exit', '--', host], { stdout: 'ignore' }).catch(() => undefined)));
  hostsUsed.clear();
  controlDir = undefined;
  process.removeListener('exit', endConnectionsNow);
  rmSync(dir, { recursive: true, force: true });
}

/** The same client as rsync's `--rsh` value (rsync splits it on spaces itself). */
export function rsyncShell(ssh: string[]): string {
  return ssh.join(' ');
}

export interface RemoteRunOptions {
  stdin?: Readable;
  /** Default: captured (the first MiB) and returned. */
  stdout?: Writable;
  signal?: AbortSignal;
  /** Script exit codes that are answers, not failures (e.g. 3: "no such file"). */
  answers?: number[];
}

/** Runs one of the fixed scripts on the remote host; resolves with its exit code and stdout. */
export async function remoteRun(
  ssh: string[],
  remote: RemotePath,
  op: RemoteOp,
  args: string[],
  opts: RemoteRunOptions = {},
): Promise<{ exitCode: number; stdout: string }> {
  const command = ['sh', '-c', SCRIPTS[op], `backplan-${op}`, ...args].map(shellQuote).join(' ');
  const argv = [...ssh, '--', remote.host, command];
  hostsUsed.set(remote.host, ssh);
  try {
    const result = await run(argv, {
      stdin: opts.stdin,
      stdout: opts.stdout ?? 'capture',
      signal: opts.signal,
      okExitCodes: [0, ...(opts.answers ?? [])],
      displayArgv: [...ssh, '--', remote.host, `backplan-${op}`, ...args],
    });
    return { exitCode: result.exitCode ?? 0, stdout: result.stdout ?? '' };
  } catch (e) {
    throw explain(e, remote, op);
  }
}

function explain(e: unknown, remote: RemotePath, op: RemoteOp): unknown {
  if (!(e instanceof CommandError) || e.code !== 'COMMAND_FAILED') return e;
  const lastLine = e.result.stderrTail.trim().split('\n').at(-1) ?? '';
  if (e.result.exitCode === SSH_FAILED || e.result.exitCode === null) {
    return new BackplanError('COMMAND_FAILED', `cannot reach ${remote.host} over ssh: ${lastLine || 'ssh failed'}`, {
      ...e.details,
      hint: `check that \`ssh ${remote.host} true\` works without a prompt (key, known_hosts); BACKPLAN_SSH_COMMAND sets the ssh command and its options`,
    });
  }
  return new BackplanError('COMMAND_FAILED', `${op} at ${remote.host}:${remote.path} failed: ${lastLine || `exit ${e.result.exitCode}`}`, {
    ...e.details,
    hint: 'the remote needs a POSIX sh and GNU coreutils; check the path exists and is writable by the ssh user',
  });
}

/** Single quotes: the one quoting every POSIX shell reads back literally, newlines included. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
