import type { PlannedStep } from '../plan/types.js';
import { publishSnapshot } from '../record/publish.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import { TOOL_VERSION } from '../version.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface FinalizeOptions {
  partialDir: string;
  dir: string;
  latestLink: string;
}

/** Writes snapshot.json with every checksum, fsyncs, renames .partial-<id> to <id>, moves `latest`. */
export function planFinalize(input: PlanInput): PlannedStep<FinalizeOptions> {
  const { partialDir, dir } = input.snapshot;
  const latestLink = `${input.settings.destination}/latest`;
  return {
    id: 'finalize',
    kind: 'finalize',
    needs: [],
    always: false,
    summary: 'record snapshot.json (checksums, sizes, durations), fsync, publish the snapshot',
    commands: [`write ${partialDir}/snapshot.json`, `rename ${partialDir} -> ${dir}`, `link ${latestLink} -> ${input.snapshot.id}`],
    options: { partialDir, dir, latestLink },
  };
}

/** Assembles snapshot.json from what the steps recorded and publishes the snapshot. */
export const runFinalize: StepRun<FinalizeOptions> = async (step, ctx, signal) => {
  await ctx.state.databaseHold;
  const { plan, state } = ctx;
  const record: SnapshotRecord = {
    format: 'backplan-snapshot/1',
    id: plan.snapshot.id,
    kind: plan.snapshot.kind,
    job: plan.manifest.name,
    startedAt: state.startedAt.toISOString(),
    completedAt: new Date().toISOString(),
    tool: { name: 'backplan', version: TOOL_VERSION },
    manifest: { file: plan.manifest.file, sha256: plan.manifest.sha256 },
    parent: plan.snapshot.parent,
    watermark: state.watermark,
    database: state.database,
    repository: state.repository,
    artefacts: [...state.artefacts].sort((a, b) => a.path.localeCompare(b.path)),
    steps: [...state.steps.values()],
  };
  await publishSnapshot(record, step.options.partialDir, step.options.dir, step.options.latestLink, signal);
  return { bytes: record.artefacts.reduce((n, a) => n + a.bytes, 0) };
};
