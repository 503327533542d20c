/**
 * The local staging folder of the remote kinds (ssh, rclone): the partial snapshot a run stages
 * there, and a chain's small files copied into a scratch folder beside it, then read as a local
 * destination (what `fetch` is for kinds whose snapshots are not local folders). The large
 * artefacts (record/streamed.ts) stay where they are: restore streams them from the remote.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplanError } from '../../errors.js';
import { removeTree } from '../../execute/remove-tree.js';
import { PARTIAL_PREFIX } from '../../record/layout.js';
import { streamedArtefacts } from '../../record/streamed.js';
import { LocalDestination } from './local.js';
import type { CompleteSnapshot, Destination, LocalSnapshots } from '../types.js';

/**
 * `copy` puts one snapshot's folder at `into`, but for `leaveOut` (paths relative to it: the large
 * artefacts, streamed from `remote` by restore); the scratch folder goes again on failure or release.
 */
export async function copyChain(
  staging: string,
  chain: CompleteSnapshot[],
  copy: (entry: CompleteSnapshot, into: string, leaveOut: string[]) => Promise<void>,
  log: (line: string) => void,
  remote: Destination,
): Promise<LocalSnapshots> {
  const root = join(staging, 'fetched');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const scratch = await mkdtemp(join(root, 'restore-'));
  const release = () => removeTree(scratch);
  try {
    for (const entry of chain) {
      const leaveOut = streamedArtefacts(entry.record.artefacts).map((a) => a.path);
      log(`copying ${entry.dir} to ${join(scratch, entry.id)}${leaveOut.length > 0 ? ` but for ${leaveOut.length} large artefacts, streamed from there` : ''}`);
      await copy(entry, join(scratch, entry.id), leaveOut);
    }
    const local = new LocalDestination(scratch);
    const copies = new Map((await local.list()).map((e) => [e.id, e]));
    const entries = chain.map((entry) => {
      const found = copies.get(entry.id);
      if (!found?.record) throw new BackplanError('SNAPSHOT', `the copy of ${entry.id} in ${scratch} is incomplete`, { hint: 'run the restore again' });
      return found as CompleteSnapshot;
    });
    return { entries, local, copied: true, release, remote };
  } catch (e) {
    await release();
    throw e;
  }
}

/** Clears what interrupted runs staged in `staging` (saying so), then makes `partialDir` there. */
export async function stageAfresh(staging: string, partialDir: string, warn: (message: string) => void): Promise<void> {
  for (const name of await readdir(staging).catch(() => [] as string[])) {
    if (!name.startsWith(PARTIAL_PREFIX)) continue;
    warn(`removing ${join(staging, name)}, staged by an interrupted run`);
    await rm(join(staging, name), { recursive: true, force: true });
  }
  await mkdir(partialDir, { recursive: true, mode: 0o700 });
}
