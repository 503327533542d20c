import type { PlannedStep } from '../plan/types.js';
import { join } from 'node:path';
import { BackplanError } from '../errors.js';
import { VERIFICATION_FILE } from '../record/destination.js';
import { writeJsonSynced } from '../record/publish.js';
import { verifySnapshotDir } from '../record/verify.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface VerifyOptions {
  dir: string;
}

/** Re-reads every artefact of the new snapshot against snapshot.json. */
export function planVerify(input: PlanInput): PlannedStep<VerifyOptions> {
  return {
    id: 'verify',
    kind: 'verify',
    needs: [],
    always: false,
    summary: 'check every artefact of the new snapshot against its recorded sha256',
    commands: [`verify ${input.snapshot.dir}`],
    options: { dir: input.snapshot.dir },
  };
}

/** Re-hashes the new snapshot's artefacts (not every file of a folder: `backplan verify` does that). */
export const runVerify: StepRun<VerifyOptions> = async (step, ctx) => {
  const report = await verifySnapshotDir(step.options.dir, { deep: false });
  if (report.problems.length > 0) {
    const list = report.problems.map((p) => `${p.path}: ${p.problem}`).join('; ');
    throw new BackplanError('VERIFY_FAILED', `the new snapshot does not match its snapshot.json: ${list}`, {
      hint: 'the destination may be failing; check its disk and run `backplan verify`',
    });
  }
  await writeJsonSynced(join(step.options.dir, VERIFICATION_FILE), { verifiedAt: new Date().toISOString(), deep: false, ...report });
  ctx.emit({ type: 'step-log', step: step.id, level: 'info', message: `${report.checkedFiles} artefact(s) match their checksums` });
  return { bytes: report.checkedBytes };
};
