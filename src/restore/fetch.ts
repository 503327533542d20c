/**
 * Restores read snapshot folders as local files. From an ssh destination the snapshot and,
 * for an incremental, its whole chain are first copied into a scratch folder beside the
 * staging folder (rsync, hard links kept); restore then verifies and reads that copy as it
 * would a local destination, and the copy is deleted afterwards.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplanError } from '../errors.js';
import { run } from '../execute/subprocess.js';
import { listSnapshots } from '../record/destination.js';
import type { SnapshotEntry } from '../record/destination.js';
import { stagingDir } from '../record/layout.js';
import { rsyncShell } from '../record/remote/ssh.js';
import { remoteDestination } from '../util/destination.js';
import { snapshotChain } from './chain.js';
import type { CompleteSnapshot } from './chain.js';

export interface LocalSnapshots {
  entries: SnapshotEntry[];
  snapshot: CompleteSnapshot;
  /** Deletes the fetched copy (nothing for a local destination). */
  release(): Promise<void>;
}

export async function localSnapshots(
  destination: string,
  entries: SnapshotEntry[],
  snapshot: CompleteSnapshot,
  opts: { signal?: AbortSignal; log: (line: string) => void },
): Promise<LocalSnapshots> {
  if (!remoteDestination(destination)) return { entries, snapshot, release: async () => undefined };
  const root = join(stagingDir(destination), 'fetched');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const scratch = await mkdtemp(join(root, 'restore-'));
  const release = () => rm(scratch, { recursive: true, force: true });
  try {
    for (const entry of snapshotChain(entries, snapshot)) {
      opts.log(`copying ${entry.dir} to ${join(scratch, entry.id)}`);
      const argv = ['rsync', '--archive', '--hard-links', '--protect-args', `--rsh=${rsyncShell()}`, '--', `${entry.dir}/`, `${join(scratch, entry.id)}/`];
      await run(argv, { stdout: 'ignore', signal: opts.signal });
    }
    const local = await listSnapshots(scratch);
    const copy = local.find((e) => e.id === snapshot.id);
    if (!copy?.complete || !copy.record) throw new BackplanError('SNAPSHOT', `the copy of ${snapshot.id} in ${scratch} is incomplete`, { hint: 'run the restore again' });
    return { entries: local, snapshot: copy as CompleteSnapshot, release };
  } catch (e) {
    await release();
    throw e;
  }
}
