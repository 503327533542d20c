import type { PlannedStep } from '../plan/types.js';
import { BackplanError } from '../errors.js';
import { VERIFICATION_FILE } from '../destination/shared/listing.js';
import { assessSnapshots, newestRestorable } from '../record/health.js';
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

/**
 * Re-hashes the new snapshot's artefacts (not every file of a folder: `backplan verify` does
 * that), or checks their sizes where re-hashing would download them all again. A mismatch is recorded, so every command sees the snapshot as damaged, and `latest`
 * goes back to the newest restorable snapshot.
 */
export const runVerify: StepRun<Record<string, never>> = async (step, ctx) => {
  const { id } = ctx.plan.snapshot;
  const dest = ctx.destination;
  const fast = dest.rehashDownloads;
  const report = await verifySnapshot(dest, id, { deep: false, fast });
  const outcome = report.problems.length > 0 ? { failedAt: new Date().toISOString() } : { verifiedAt: new Date().toISOString() };
  await dest.writeText(`${id}/${VERIFICATION_FILE}`, JSON.stringify({ ...outcome, deep: false, ...(fast ? { fast } : {}), ...report }, null, 2) + '\n');
  if (report.problems.length > 0) {
    await dest.pointLatest(newestRestorable(assessSnapshots(await dest.list(), ctx.plan.manifest.name))?.id);
    const list = report.problems.map((p) => `${p.path}: ${p.problem}`).join('; ');
    throw new BackplanError('VERIFY_FAILED', `the new snapshot does not match its snapshot.json: ${list}`, {
      hint: 'the destination may be failing; check its disk and run `backplan verify`',
    });
  }
  const matched = fast ? 'sizes (hashed on their way up; `backplan verify` re-hashes them)' : 'checksums';
  ctx.emit({ type: 'step-log', step: step.id, level: 'info', message: `${report.checkedFiles} artefact(s) match their ${matched}` });
  return { bytes: report.checkedBytes };
};
