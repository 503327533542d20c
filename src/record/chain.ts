/**
 * An incremental snapshot holds only what changed since its parent: restoring it means its full
 * base first, then every delta in order up to it.
 */
import { BackplanError } from '../errors.js';
import type { CompleteSnapshot, SnapshotEntry } from '../destination/types.js';

/** The snapshots to apply, full base first and `wanted` last; a broken chain is a SNAPSHOT error. */
export function snapshotChain(entries: SnapshotEntry[], wanted: CompleteSnapshot): CompleteSnapshot[] {
  const chain = [wanted];
  const byId = new Map(entries.map((e) => [e.id, e]));
  for (let current = wanted; current.record.kind === 'incr'; ) {
    const parentId = current.record.parent;
    const parent = parentId === undefined ? undefined : byId.get(parentId);
    if (!parent?.record || chain.some((c) => c.id === parent.id)) {
      const why = parentId === undefined ? 'names no parent' : parent?.record ? 'loops back on itself' : `depends on ${parentId}, which is ${parent ? 'incomplete' : 'missing'}`;
      throw new BackplanError('SNAPSHOT', `incremental snapshot ${current.id} ${why}; the chain to ${wanted.id} cannot be restored`, {
        hint: 'restore an older full snapshot (backplan list shows kinds and parents)',
      });
    }
    current = parent as CompleteSnapshot;
    chain.unshift(current);
  }
  return chain;
}
