/**
 * An incremental snapshot holds only what changed since its parent: restoring it means its full
 * base first, then every delta in order up to it.
 */
import { BackplanError } from '../errors.js';
import type { SnapshotEntry } from '../record/destination.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';

/** A complete snapshot, its record read. */
export type CompleteSnapshot = SnapshotEntry & { record: SnapshotRecord };

/** The snapshots to apply, full base first and `wanted` last; a broken chain is a SNAPSHOT error. */
export function snapshotChain(entries: SnapshotEntry[], wanted: CompleteSnapshot): CompleteSnapshot[] {
  const chain = [wanted];
  const byId = new Map(entries.map((e) => [e.id, e]));
  for (let current = wanted; current.record.kind === 'incr'; ) {
    const parentId = current.record.parent;
    const parent = parentId === undefined ? undefined : byId.get(parentId);
    if (!parent?.record || !parent.complete || chain.some((c) => c.id === parent.id)) {
      const why = parentId === undefined ? 'names no parent' : parent?.complete ? 'loops back on itself' : `depends on ${parentId}, which is ${parent ? 'incomplete' : 'missing'}`;
      throw new BackplanError('SNAPSHOT', `incremental snapshot ${current.id} ${why}; the chain to ${wanted.id} cannot be restored`, {
        hint: 'restore an older full snapshot (backplan list shows kinds and parents)',
      });
    }
    current = parent as CompleteSnapshot;
    chain.unshift(current);
  }
  return chain;
}

/** Applies one incremental snapshot's repository delta onto a restored repository. */
export type ApplyRepositoryDelta = (snapshotDir: string, record: SnapshotRecord, targetRepo: string) => Promise<void>;

/**
 * The delta format belongs to the incremental strategy (src/incremental/apply.ts). It is looked
 * up at run time, so restore of full snapshots never depends on it; a build without it says so.
 */
const APPLY_MODULE = '../incremental/apply.js';

export async function loadDeltaApplier(forSnapshot: string): Promise<ApplyRepositoryDelta> {
  let applier: unknown;
  try {
    applier = ((await import(APPLY_MODULE)) as { applyRepositoryDelta?: unknown }).applyRepositoryDelta;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('incremental/apply.js')) throw e;
  }
  if (typeof applier === 'function') return applier as ApplyRepositoryDelta;
  throw new BackplanError('SNAPSHOT', `restoring the incremental snapshot ${forSnapshot} needs applyRepositoryDelta (src/incremental/apply.ts), which this build of backplan lacks`, {
    hint: 'restore a full snapshot instead (backplan list shows the kinds), or use a backplan with incremental support',
  });
}
