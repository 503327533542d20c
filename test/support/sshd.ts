/**
 * A loopback sshd for tests of remote destinations: throwaway host and client keys in a temp
 * dir, listening on 127.0.0.1 on a free port, logging in as the user running the tests. The
 * ssh command that reaches it goes to backplan through BACKPLAN_SSH_COMMAND.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface LoopbackSshd {
  /** `user@127.0.0.1`, to write destinations as `${host}:/path`. */
  host: string;
  /** The client command (key, port, no host-key prompts) for BACKPLAN_SSH_COMMAND. */
  sshCommand: string;
  env: NodeJS.ProcessEnv;
  /** For clients configured otherwise (rclone's SFTP remote): port, user and private key file. */
  port: number;
  user: string;
  keyFile: string;
  stop(): Promise<void>;
}

export function sshdPath(): string | undefined {
  return ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p));
}

export async function startSshd(): Promise<LoopbackSshd> {
  const sshd = sshdPath();
  if (!sshd) throw new Error('sshd is not installed (apt-get install openssh-server; .ci/run does)');
  const dir = await mkdtemp(join(tmpdir(), 'backplan-sshd-'));
  await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  await copyFile(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'LogLevel ERROR',
    // rclone's SFTP remote (test/support/destination-kinds.ts) needs the subsystem.
    'Subsystem sftp internal-sftp',
    // bash run by sshd sources ~/.bashrc unless SHLVL says it is nested; this machine's root
    // .bashrc runs `pyenv init` (a second per remote call). Real hosts vary; tests need not wait.
    'SetEnv SHLVL=1',
  ];
  await writeFile(join(dir, 'sshd_config'), config.join('\n') + '\n');
  // Privilege separation wants this folder when sshd runs as root.
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await waitForPort(port, child, () => stderr);
  const sshCommand = [
    'ssh',
    '-i', join(dir, 'client_key'),
    '-p', String(port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'IdentitiesOnly=yes',
  ].join(' ');
  return {
    host: `${userInfo().username}@127.0.0.1`,
    sshCommand,
    env: { BACKPLAN_SSH_COMMAND: sshCommand },
    port,
    user: userInfo().username,
    keyFile: join(dir, 'client_key'),
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${stderr()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
