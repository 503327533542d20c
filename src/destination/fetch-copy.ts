/**
 * A chain copied from a remote kind into a scratch folder beside its staging, then read as a
 * local destination: what `fetch` is for kinds whose snapshots are not local folders.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplanError } from '../errors.js';
import { LocalDestination } from './local.js';
import type { CompleteSnapshot, LocalSnapshots } from './types.js';

/** `copy` puts one snapshot's folder at `into`; the scratch folder goes again on failure or release. */
export async function copyChain(
  staging: string,
  chain: CompleteSnapshot[],
  copy: (entry: CompleteSnapshot, into: string) => Promise<void>,
  log: (line: string) => void,
): Promise<LocalSnapshots> {
  const root = join(staging, 'fetched');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const scratch = await mkdtemp(join(root, 'restore-'));
  const release = () => rm(scratch, { recursive: true, force: true });
  try {
    for (const entry of chain) {
      log(`copying ${entry.dir} to ${join(scratch, entry.id)}`);
      await copy(entry, join(scratch, entry.id));
    }
    const local = new LocalDestination(scratch);
    const copies = new Map((await local.list()).map((e) => [e.id, e]));
    const entries = chain.map((entry) => {
      const found = copies.get(entry.id);
      if (!found?.record) throw new BackplanError('SNAPSHOT', `the copy of ${entry.id} in ${scratch} is incomplete`, { hint: 'run the restore again' });
      return found as CompleteSnapshot;
    });
    return { entries, local, copied: true, release };
  } catch (e) {
    await release();
    throw e;
  }
}
