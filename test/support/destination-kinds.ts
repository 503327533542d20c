/**
 * Every kind of destination the conformance suite (test/destination-conformance.test.ts) runs
 * against. Each names a folder on this machine in its own way, so the tests can check what
 * backplan left there by reading the folder directly. A new kind is one fixture and one line in
 * DESTINATION_KINDS.
 */
import { execFileSync } from 'node:child_process';
import { join, posix } from 'node:path';
import { folderStore, rcloneStore } from './destination-store.js';
import type { DestinationStore } from './destination-store.js';
import { S3_BUCKET, startS3 } from './s3-server.js';
import type { LoopbackS3 } from './s3-server.js';
import { sshdPath, startSshd } from './sshd.js';
import type { LoopbackSshd } from './sshd.js';

export interface DestinationKindFixture {
  name: string;
  /** Why this kind cannot be tested on this machine; undefined when it can. */
  unavailable(): string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The destination string for the local folder `dir`. */
  spec(dir: string): string;
  /** What backplan needs in its environment; staging (if the kind stages) goes under `scratch`. */
  env(scratch: string): NodeJS.ProcessEnv;
  /** Whether artefacts are made in a local staging folder and uploaded at publish. */
  stages: boolean;
  /** Whether snapshots are published by renaming `.partial-<id>` (else by their snapshot.json alone). */
  renames: boolean;
  /** Whether the rsync strategy can write there (it needs a filesystem). */
  rsync: boolean;
  /** Reads and tampers with what the destination holds, without backplan. */
  store: DestinationStore;
  /** The local folder holding the stored bytes of destination `dir`, to scan them raw. */
  storedAt(dir: string): string;
  /** How long one call there may take on a loaded machine, for tests that race a clock. */
  callMs: number;
  /** A destination of this kind that cannot be reached, and what the failure must say. */
  unreachable(scratch: string): { spec: string; env: NodeJS.ProcessEnv; says: RegExp[] };
}

const local: DestinationKindFixture = {
  name: 'local folder',
  unavailable: () => undefined,
  start: async () => undefined,
  stop: async () => undefined,
  spec: (dir) => dir,
  env: () => ({}),
  stages: false,
  renames: true,
  rsync: true,
  store: folderStore,
  storedAt: (dir) => dir,
  callMs: 50,
  unreachable: () => ({ spec: '/dev/null/backups', env: {}, says: [/cannot create \/dev\/null\/backups\/\.lock/, /check that the destination exists and is writable/] }),
};

let sshd: LoopbackSshd | undefined;

const ssh: DestinationKindFixture = {
  name: 'ssh (user@host:/path)',
  unavailable: () => (sshdPath() ? undefined : 'sshd is not installed; .ci/run installs openssh-server'),
  start: async () => {
    sshd = await startSshd();
  },
  stop: async () => {
    await sshd?.stop();
    sshd = undefined;
  },
  spec: (dir) => `${sshd!.host}:${dir}`,
  env: (scratch) => ({ ...sshd!.env, BACKPLAN_STAGING: join(scratch, 'staging') }),
  stages: true,
  renames: true,
  rsync: true,
  store: folderStore,
  storedAt: (dir) => dir,
  callMs: 250,
  unreachable: (scratch) => {
    const closedPort = sshd!.sshCommand.replace(/-p \d+/, '-p 1');
    return {
      spec: `${sshd!.host}:${join(scratch, 'backups')}`,
      env: { BACKPLAN_STAGING: join(scratch, 'staging'), BACKPLAN_SSH_COMMAND: `${closedPort} -o ConnectTimeout=5` },
      says: [/cannot reach .*127\.0\.0\.1 over ssh/, /BACKPLAN_SSH_COMMAND/],
    };
  },
};

function rcloneMissing(): string | undefined {
  try {
    execFileSync('rclone', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'rclone is not installed; .ci/run installs it';
  }
}

/** The secret rclone is given for the S3 remote: tests look for it everywhere backplan writes. */
export const S3_SECRET = 'canary-s3-secret-7f3a9c';
let s3: LoopbackS3 | undefined;
/** Key paths inside the bucket, from the local-looking folder a test names. */
const s3Root = (dir: string) => posix.join(S3_BUCKET, dir);
const s3Env = (): NodeJS.ProcessEnv => ({ ...s3!.rcloneEnv('bps3', S3_SECRET), BACKPLAN_RCLONE_GRACE: '0s' });

const rcloneS3: DestinationKindFixture = {
  name: 'rclone S3 (s3rver)',
  unavailable: rcloneMissing,
  start: async () => {
    s3 = await startS3();
  },
  stop: async () => {
    await s3?.stop();
    s3 = undefined;
  },
  spec: (dir) => `rclone:bps3:${s3Root(dir)}`,
  env: (scratch) => ({ ...s3Env(), BACKPLAN_STAGING: join(scratch, 'staging') }),
  stages: true,
  renames: false,
  rsync: false,
  store: rcloneStore('bps3', s3Root, s3Env),
  storedAt: (dir) => join(s3!.directory, s3Root(dir)),
  callMs: 1500,
  unreachable: (scratch) => ({
    spec: `rclone:bps3:${s3Root(join(scratch, 'backups'))}`,
    env: { ...s3!.rcloneEnv('bps3', S3_SECRET), RCLONE_CONFIG_BPS3_ENDPOINT: 'http://127.0.0.1:1', BACKPLAN_STAGING: join(scratch, 'staging') },
    says: [/rclone .* at rclone:bps3:.* failed/, /RCLONE_CONFIG_BPS3_/],
  }),
};

let sftpd: LoopbackSshd | undefined;
const sftpEnv = (port = sftpd!.port): NodeJS.ProcessEnv => ({
  RCLONE_CONFIG_BPSFTP_TYPE: 'sftp',
  RCLONE_CONFIG_BPSFTP_HOST: '127.0.0.1',
  RCLONE_CONFIG_BPSFTP_PORT: String(port),
  RCLONE_CONFIG_BPSFTP_USER: sftpd!.user,
  RCLONE_CONFIG_BPSFTP_KEY_FILE: sftpd!.keyFile,
  RCLONE_CONFIG_BPSFTP_SHELL_TYPE: 'unix',
  RCLONE_CONFIG_BPSFTP_MD5SUM_COMMAND: 'none',
  RCLONE_CONFIG_BPSFTP_SHA1SUM_COMMAND: 'none',
  BACKPLAN_RCLONE_GRACE: '0s',
});

const rcloneSftp: DestinationKindFixture = {
  name: 'rclone SFTP (loopback sshd)',
  unavailable: () => rcloneMissing() ?? (sshdPath() ? undefined : 'sshd is not installed; .ci/run installs openssh-server'),
  start: async () => {
    sftpd = await startSshd();
  },
  stop: async () => {
    await sftpd?.stop();
    sftpd = undefined;
  },
  spec: (dir) => `rclone:bpsftp:${dir}`,
  env: (scratch) => ({ ...sftpEnv(), BACKPLAN_STAGING: join(scratch, 'staging') }),
  stages: true,
  renames: false,
  rsync: false,
  store: rcloneStore('bpsftp', (dir) => dir, () => sftpEnv()),
  storedAt: (dir) => dir,
  callMs: 1500,
  unreachable: (scratch) => ({
    spec: `rclone:bpsftp:${join(scratch, 'backups')}`,
    env: { ...sftpEnv(1), BACKPLAN_STAGING: join(scratch, 'staging') },
    says: [/rclone .* at rclone:bpsftp:.* failed/, /RCLONE_CONFIG_BPSFTP_/],
  }),
};

export const DESTINATION_KINDS: DestinationKindFixture[] = [local, ssh, rcloneS3, rcloneSftp];

/** Inside a `describe`: skips it, saying why, where the kind cannot run here; else starts and stops it. */
export function useKind(kind: DestinationKindFixture): void {
  before(async function () {
    const why = kind.unavailable();
    if (why) {
      console.log(`    (skipped: ${why})`);
      this.skip();
    }
    await kind.start();
  });
  after(() => kind.stop());
}
