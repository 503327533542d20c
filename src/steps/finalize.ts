import type { PlannedStep } from '../plan/types.js';
import type { SnapshotEncryption, SnapshotRecord } from '../record/snapshot-record.js';
import { TOOL_VERSION } from '../version.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

/** Writes snapshot.json with every checksum and publishes the snapshot at the destination. */
export interface FinalizeOptions {
  /** Recorded in snapshot.json: the tool and the public keys, never an identity. */
  encryption?: SnapshotEncryption;
}

export function planFinalize(input: PlanInput): PlannedStep<FinalizeOptions> {
  return {
    id: 'finalize',
    kind: 'finalize',
    needs: [],
    always: false,
    summary: 'record snapshot.json (checksums, sizes, durations), fsync, publish the snapshot',
    commands: input.destination.publishCommands(input.snapshot.id),
    options: input.settings.encryption ? { encryption: input.settings.encryption } : {},
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
    ...(plan.snapshot.reason ? { reason: plan.snapshot.reason } : {}),
    watermark: state.watermark,
    database: state.database,
    repository: state.repository,
    ...(step.options.encryption ? { encryption: step.options.encryption } : {}),
    artefacts: [...state.artefacts].sort((a, b) => a.path.localeCompare(b.path)),
    steps: [...state.steps.values()],
  };
  await ctx.destination.publish(plan.snapshot.id, record, signal);
  return { bytes: record.artefacts.reduce((n, a) => n + a.bytes, 0) };
};
