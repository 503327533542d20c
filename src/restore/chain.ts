/** How an incremental snapshot's repository delta is applied, loaded only when one is restored. */
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

/** The delta format is the incremental strategy's (incremental-delta.ts); restoring a full snapshot never loads it. */
export async function loadDeltaApplier(): Promise<ApplyRepositoryDelta> {
  return (await import('./incremental-delta.js')).applyRepositoryDelta;
}
