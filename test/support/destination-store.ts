/**
 * How tests look at and tamper with what a destination holds without going through backplan:
 * a folder on this machine read directly, or an rclone remote through the rclone binary itself.
 * The published/partial vocabulary is the same for both: on a remote, where nothing is renamed,
 * a snapshot folder without snapshot.json counts as `.partial-<id>`.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parseSnapshotId, PARTIAL_PREFIX } from '../../src/record/layout.js';
import { destinationState, expectOnlySoundSnapshots } from './destination.js';
import type { DestinationState } from './destination.js';

const exec = promisify(execFile);

export interface DestinationStore {
  /** A file's bytes; undefined when missing. */
  read(dir: string, path: string): Promise<Buffer | undefined>;
  write(dir: string, path: string, data: string | Buffer): Promise<void>;
  remove(dir: string, path: string): Promise<void>;
  /** Names directly inside `dir/sub`. */
  names(dir: string, sub?: string): Promise<string[]>;
  /** Sets a file's modification time. */
  touch(dir: string, path: string, mtime: Date): Promise<void>;
  state(dir: string): Promise<DestinationState>;
  /** Every published snapshot has its snapshot.json and every checksum matches; latest names one. */
  expectSound(dir: string): Promise<DestinationState>;
}

export const folderStore: DestinationStore = {
  read: (dir, path) => readFile(join(dir, path)).catch(() => undefined),
  write: async (dir, path, data) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  },
  remove: (dir, path) => rm(join(dir, path), { recursive: true, force: true }),
  names: (dir, sub = '') => readdir(join(dir, sub)).catch(() => [] as string[]),
  touch: (dir, path, mtime) => utimes(join(dir, path), mtime, mtime),
  state: destinationState,
  expectSound: expectOnlySoundSnapshots,
};

/** A store on the rclone remote `remote:` whose root for the local-looking `dir` is `root(dir)`. */
export function rcloneStore(remote: string, root: (dir: string) => string, env: () => NodeJS.ProcessEnv): DestinationStore {
  const target = (dir: string, path = '') => `${remote}:${path ? posix.join(root(dir), path) : root(dir)}`;
  const rclone = async (args: string[], input?: string | Buffer) => {
    const child = exec('rclone', ['--quiet', ...args], { env: { ...process.env, ...env() }, encoding: 'buffer', maxBuffer: 1 << 28 });
    if (input !== undefined) child.child.stdin!.end(input);
    return (await child).stdout;
  };
  const list = async (dir: string, sub = '', depth = 1): Promise<{ Path: string; IsDir: boolean }[]> => {
    const out = await rclone(['lsjson', '--recursive', '--max-depth', String(depth), target(dir, sub)]).catch(() => Buffer.from('[]'));
    return JSON.parse(out.toString() || '[]') as { Path: string; IsDir: boolean }[];
  };
  const store: DestinationStore = {
    read: async (dir, path) => {
      const found = (await list(dir, posix.dirname(path))).some((o) => !o.IsDir && o.Path === posix.basename(path));
      return found ? rclone(['cat', target(dir, path)]) : undefined;
    },
    write: async (dir, path, data) => void (await rclone(['rcat', target(dir, path)], data)),
    remove: async (dir, path) => {
      const isFile = (await list(dir, posix.dirname(path))).some((o) => !o.IsDir && o.Path === posix.basename(path));
      await rclone([isFile ? 'deletefile' : 'purge', target(dir, path)]).catch(() => undefined);
    },
    names: async (dir, sub = '') => (await list(dir, sub)).map((o) => o.Path),
    touch: async (dir, path, mtime) => void (await rclone(['touch', '--no-create', '--timestamp', mtime.toISOString().replace(/\.\d+Z$/, ''), target(dir, path)])),
    state: async (dir) => {
      const objects = await list(dir, '', 2);
      const folders = objects.filter((o) => o.IsDir && !o.Path.includes('/') && parseSnapshotId(o.Path)).map((o) => o.Path);
      const recorded = new Set(objects.filter((o) => o.Path.endsWith('/snapshot.json')).map((o) => o.Path.split('/')[0]));
      const latest = (await store.read(dir, 'latest'))?.toString().trim();
      return {
        published: folders.filter((f) => recorded.has(f)).sort(),
        partial: folders.filter((f) => !recorded.has(f)).map((f) => `${PARTIAL_PREFIX}${f}`).sort(),
        lock: objects.some((o) => o.Path === '.lock'),
        latest,
      };
    },
    // Copied here by rclone, then judged as a local folder would be.
    expectSound: async (dir) => {
      const copy = await mkdtemp(join(tmpdir(), 'backplan-store-'));
      try {
        const state = await store.state(dir);
        for (const id of state.published) await rclone(['copy', target(dir, id), join(copy, id)]);
        const local = await expectOnlySoundSnapshots(copy);
        expect(local.published).to.deep.equal(state.published);
        if (state.latest !== undefined) expect(state.published, 'latest names a published snapshot').to.include(state.latest);
        return state;
      } finally {
        await rm(copy, { recursive: true, force: true });
      }
    },
  };
  return store;
}
