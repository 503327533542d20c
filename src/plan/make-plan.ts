import { createHash } from 'node:crypto';
import { BackplanErrors } from '../errors.js';
import type { ManifestSource } from '../validate/read-manifest.js';
import type { Resolution } from '../resolve/types.js';
import { decideRetention } from '../record/retention.js';
import { retentionInput } from '../record/prune.js';
import type { Destination, SnapshotEntry } from '../destination/types.js';
import { assessSnapshots, describeState, newestPublished, newestRestorable } from '../record/health.js';
import type { AssessedSnapshot } from '../record/health.js';
import { snapshotId } from '../record/layout.js';
import type { SnapshotKind } from '../record/layout.js';
import type { PlanInput, PreviousSnapshot } from '../steps/plan-input.js';
import { compileSteps } from './compile.js';
import { checkGraph } from './graph.js';
import type { StepPosition } from './graph.js';
import { settingsOf } from './settings.js';
import type { Settings } from './settings.js';
import type { Plan } from './types.js';
import type { Manifest } from '../manifest.js';
import type { IncrementalEstimate } from '../incremental/estimate.js';

/** Facts about the world a plan depends on, gathered by the caller (see plan/probe.ts). */
export interface PlanFacts {
  now: Date;
  pgDumpMajor?: number;
  exportedSnapshots: boolean;
  /** Snapshots at the destination when planning. */
  snapshots: SnapshotEntry[];
  notes: string[];
  /** What an incremental would copy now (`plan` only). */
  incremental?: IncrementalEstimate;
}

export interface PlanRequest {
  source: ManifestSource & { manifest: Manifest };
  resolution: Resolution;
  destination: Destination;
  facts: PlanFacts;
  waitLockMs?: number;
}

/** manifest + resolved profile + facts → the Plan that `run` executes and `plan` prints. */
export function makePlan({ source, resolution, destination, facts, waitLockMs = 0 }: PlanRequest): Plan {
  const settings = settingsOf(source.manifest);
  const assessed = assessSnapshots(facts.snapshots, settings.name);
  // A run builds on (links to, or increments from) restorable snapshots only.
  const previous = newestRestorable(assessed);
  const { kind, reason } = snapshotKind(settings, assessed, facts.now);
  const id = snapshotId(facts.now, kind);
  const snapshot = { id, kind, parent: kind === 'incr' ? previous?.id : undefined, ...(reason ? { reason } : {}), ...destination.snapshotPaths(id) };
  const input: PlanInput = {
    settings,
    destination,
    profile: resolution.profile,
    snapshot,
    previous: previous && toPrevious(previous),
    pgDumpMajor: facts.pgDumpMajor,
    hasPassword: resolution.secrets.pgPassword !== undefined,
    exportedSnapshots: facts.exportedSnapshots,
    incrementalEstimate: facts.incremental,
  };
  const expectedPrune = expectedDeletions(settings, assessed, snapshot, facts.now);
  const { steps, notes } = compileSteps(input, { waitLockMs, expectedPrune });
  const errors = checkGraph(steps, userStepPosition(source, settings));
  if (errors.length > 0) throw new BackplanErrors(errors);
  return {
    manifest: { file: source.source.file, name: settings.name, sha256: createHash('sha256').update(source.source.text).digest('hex') },
    destination: destination.spec,
    snapshot,
    profile: resolution.profile,
    notes: [...facts.notes, ...(reason ? [`a full snapshot: ${reason}`] : []), ...notes],
    steps,
  };
}

/**
 * Incremental runs start a new full, saying why, when there is no snapshot yet, when the latest
 * one cannot be built on (damaged, broken chain), when it was made by another strategy (no
 * watermark), or when the last full is older than fullEvery.
 */
function snapshotKind(settings: Settings, assessed: AssessedSnapshot[], now: Date): { kind: SnapshotKind; reason?: string } {
  if (settings.repository.strategy !== 'incremental') return { kind: 'full' };
  const latest = newestPublished(assessed);
  if (!latest) return { kind: 'full', reason: 'no earlier snapshot of this job' };
  if (latest.state !== 'complete') return { kind: 'full', reason: `the latest snapshot ${latest.id} cannot be built on (${describeState(latest)})` };
  const strategy = latest.record?.repository?.strategy;
  if (strategy !== undefined && strategy !== 'incremental') return { kind: 'full', reason: `the latest snapshot ${latest.id} was made by the ${strategy} strategy` };
  const lastFull = assessed.filter((s) => s.state === 'complete' && s.kind === 'full').at(-1);
  if (!lastFull) return { kind: 'full', reason: 'no restorable full snapshot of this job' };
  const fullEveryMs = settings.repository.incremental.fullEveryMs;
  if (now.getTime() - lastFull.time.getTime() >= fullEveryMs) return { kind: 'full', reason: `the last full ${lastFull.id} is older than fullEvery` };
  return { kind: 'incr' };
}

function toPrevious(entry: AssessedSnapshot): PreviousSnapshot {
  return { id: entry.id, kind: entry.kind, time: entry.time };
}

function expectedDeletions(settings: Settings, existing: AssessedSnapshot[], next: Plan['snapshot'], now: Date): string[] {
  const all = [
    ...retentionInput(existing),
    { id: next.id, time: now, kind: next.kind, complete: true, pinned: false, parent: next.parent },
  ];
  return decideRetention(all, settings.retention).prune.map((p) => p.id);
}

/** Maps a user step's id to its place in `steps:` so graph errors point into the manifest. */
function userStepPosition(source: ManifestSource, settings: Settings): StepPosition {
  return (stepId, field, index) => {
    const matches = settings.steps.flatMap((s, at) => (s.id === stepId ? [at] : []));
    const i = field === 'id' ? (matches[index ?? 0] ?? -1) : (matches[0] ?? -1);
    if (i < 0) return undefined;
    const path: (string | number)[] = ['steps', i];
    if (field) path.push(field);
    if (field === 'needs' && index !== undefined) path.push(index);
    return source.positionOf(path);
  };
}
