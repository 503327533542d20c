import type { PlannedStep } from '../plan/types.js';
import { BackplanError } from '../errors.js';
import { VERIFICATION_FILE } from '../destination/listing.js';
import { verifySnapshot } from '../record/verify.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

/** Re-reads every artefact of the new snapshot against snapshot.json. */
export function planVerify(input: PlanInput): PlannedStep<Record<string, never>> {
  return {
    id: 'verify',
    kind: 'verify',
    needs: [],
    always: false,
    summary: 'check every artefact of the new snapshot against its recorded sha256',
    commands: [`verify ${input.snapshot.dir}`],
    options: {},
  };
}

/** Re-hashes the new snapshot's artefacts (not every file of a folder: `backplan verify` does that). */
export const runVerify: StepRun<Record<string, never>> = async (step, ctx) => {
  const { id } = ctx.plan.snapshot;
  const report = await verifySnapshot(ctx.destination, id, { deep: false });
  if (report.problems.length > 0) {
    const list = report.problems.map((p) => `${p.path}: ${p.problem}`).join('; ');
    throw new BackplanError('VERIFY_FAILED', `the new snapshot does not match its snapshot.json: ${list}`, {
      hint: 'the destination may be failing; check its disk and run `backplan verify`',
    });
  }
  const verification = { verifiedAt: new Date().toISOString(), deep: false, ...report };
  await ctx.destination.writeText(`${id}/${VERIFICATION_FILE}`, JSON.stringify(verification, null, 2) + '\n');
  ctx.emit({ type: 'step-log', step: step.id, level: 'info', message: `${report.checkedFiles} artefact(s) match their checksums` });
  return { bytes: report.checkedBytes };
};
