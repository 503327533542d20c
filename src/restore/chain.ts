/** How an incremental snapshot's repository delta is applied, loaded only when one is restored. */
import type { applyRepositoryDelta } from './incremental-delta.js';

/** Applies one incremental snapshot's repository delta onto a restored repository. */
export type ApplyRepositoryDelta = typeof applyRepositoryDelta;

/** The delta format is the incremental strategy's (incremental-delta.ts); restoring a full snapshot never loads it. */
export async function loadDeltaApplier(): Promise<ApplyRepositoryDelta> {
  return (await import('./incremental-delta.js')).applyRepositoryDelta;
}
