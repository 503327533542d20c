import type { PlannedStep } from '../plan/types.js';
import { publishSnapshot } from '../record/publish.js';
import { uploadArgv } from '../record/remote/destination.js';
import { renderCommand } from '../execute/render.js';
import { remoteDestination } from '../util/destination.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import { TOOL_VERSION } from '../version.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface FinalizeOptions {
  partialDir: string;
  dir: string;
  latestLink: string;
  /** Remote destinations: the .partial- folder there that the staged artefacts go to. */
  uploadDir?: string;
}

/** Writes snapshot.json with every checksum, fsyncs, renames .partial-<id> to <id>, moves `latest`. */
export function planFinalize(input: PlanInput): PlannedStep<FinalizeOptions> {
  const { partialDir, dir, uploadDir } = input.snapshot;
  const latestLink = `${input.settings.destination}/latest`;
  const upload = uploadDir === undefined ? undefined : remoteDestination(uploadDir);
  const publish = [`rename ${uploadDir ?? partialDir} -> ${dir}`, `link ${latestLink} -> ${input.snapshot.id}`];
  return {
    id: 'finalize',
    kind: 'finalize',
    needs: [],
    always: false,
    summary: 'record snapshot.json (checksums, sizes, durations), fsync, publish the snapshot',
    commands: [`write ${partialDir}/snapshot.json`, ...(upload ? [renderCommand(uploadArgv(partialDir, upload))] : []), ...publish],
    options: { partialDir, dir, latestLink, uploadDir },
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
  await publishSnapshot(record, step.options, signal);
  return { bytes: record.artefacts.reduce((n, a) => n + a.bytes, 0) };
};
