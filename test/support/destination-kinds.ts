/**
 * Every kind of destination the conformance suite (test/destination-conformance.test.ts) runs
 * against. Each names a folder on this machine in its own way, so the tests can check what
 * backplan left there by reading the folder directly. A new kind is one fixture and one line in
 * DESTINATION_KINDS.
 */
import { join } from 'node:path';
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
  unreachable: (scratch) => {
    const closedPort = sshd!.sshCommand.replace(/-p \d+/, '-p 1');
    return {
      spec: `${sshd!.host}:${join(scratch, 'backups')}`,
      env: { BACKPLAN_STAGING: join(scratch, 'staging'), BACKPLAN_SSH_COMMAND: `${closedPort} -o ConnectTimeout=5` },
      says: [/cannot reach .*127\.0\.0\.1 over ssh/, /BACKPLAN_SSH_COMMAND/],
    };
  },
};

export const DESTINATION_KINDS: DestinationKindFixture[] = [local, ssh];

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
