import type { ResolvedProfile } from '../resolve/types.js';
import type { SnapshotPaths } from '../destination/types.js';
import type { SnapshotKind } from '../record/layout.js';

/** Built-in step kinds; each has one module under src/steps/. */
export type StepKind =
  | 'hook'
  | 'lock'
  | 'config'
  | 'db-snapshot'
  | 'db-dump'
  | 'repo-tar'
  | 'repo-rsync'
  | 'repo-incremental'
  | 'finalize'
  | 'verify'
  | 'prune'
  | 'unlock'
  | 'exec';

/**
 * One node of the DAG. `options` is everything the step's run needs and is plain JSON without
 * secrets, so the plan printed by `backplan plan` is exactly what `run` executes.
 */
export interface PlannedStep<O = unknown> {
  id: string;
  kind: StepKind;
  needs: string[];
  /** Runs even when an earlier step failed (after-hooks marked always, unlock). */
  always: boolean;
  timeoutMs?: number;
  /** One line saying what the step does. */
  summary: string;
  /** The commands it would run, rendered for people, passwords as ***. */
  commands: string[];
  options: O;
}


export interface Plan {
  manifest: { file: string; name: string; sha256: string };
  destination: string;
  /** `reason`: why a full was taken where the strategy makes incrementals. */
  snapshot: { id: string; kind: SnapshotKind; parent?: string; reason?: string } & SnapshotPaths;
  profile: ResolvedProfile;
  /** Things the user should know: fallbacks taken, tools missing. */
  notes: string[];
  steps: PlannedStep[];
}
