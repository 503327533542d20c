/** How an incremental snapshot's repository delta is applied, found only when one is restored. */
import { BackplanError } from '../errors.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import type { ArtefactSource } from './source.js';

/** Applies one incremental snapshot's repository delta onto a restored repository; `only`: restore --include's paths. */
export type ApplyRepositoryDelta = (
  snapshotDir: string,
  record: SnapshotRecord,
  targetRepo: string,
  identity?: string,
  only?: (path: string) => boolean,
  /** Where an artefact is read from (source.ts); by default the file in snapshotDir. */
  open?: (artefact: string) => ArtefactSource,
) => Promise<void>;

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
