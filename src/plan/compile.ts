import type { PlannedStep } from './types.js';
import type { PlanInput } from '../steps/plan-input.js';
import { planLock, planUnlock } from '../steps/lock.js';
import { planDbSnapshot } from '../steps/db-snapshot.js';
import { planDbDump } from '../steps/db-dump.js';
import { planConfig } from '../steps/config.js';
import { planRepoTar } from '../steps/repo-tar.js';
import { planRepoRsync } from '../steps/repo-rsync.js';
import { planRepoIncremental } from '../steps/repo-incremental.js';
import { planFinalize } from '../steps/finalize.js';
import { planVerify } from '../steps/verify.js';
import { planPrune } from '../steps/prune.js';
import { planCommand } from '../steps/exec.js';

export interface CompileOptions {
  waitLockMs: number;
  /** Snapshot ids retention would delete once this run's snapshot exists. */
  expectedPrune: string[];
}

/**
 * The DAG of a run. Its shape, in one place:
 *
 *   lock → before-hooks… → db-snapshot → db-dump ─┐
 *                                    ├→ repository ┼→ finalize → verify → prune ─┐
 *                          config ────────────────┘        └→ after-hooks…, user steps ─┴→ unlock
 *
 * The repository copy needs only db-snapshot, not the dump: the database state is fixed by
 * then, so copy and dump run side by side (SPEC: Consistency). Without exported snapshots the
 * copy waits for the dump instead.
 */
export function compileSteps(input: PlanInput, opts: CompileOptions): { steps: PlannedStep[]; notes: string[] } {
  const steps: PlannedStep[] = [];
  const add = <S extends PlannedStep>(step: S, needs: string[]): S => {
    step.needs = needs;
    steps.push(step);
    return step;
  };

  let previous = add(planLock(input, opts.waitLockMs), []).id;
  input.settings.hooks.before.forEach((hook, i) => {
    previous = add(planCommand('hook', { ...hook, id: `before-${i + 1}` }, []), [previous]).id;
  });
  const start = previous;

  const repository = repositoryStep(input);
  const dump = planDbDump(input);
  if (input.exportedSnapshots) add(planDbSnapshot(input, ['db-dump', repository.id]), [start]);
  add(dump.step, [input.exportedSnapshots ? 'db-snapshot' : start]);
  add(repository, [input.exportedSnapshots ? 'db-snapshot' : 'db-dump']);
  add(planConfig(input), [start]);
  add(planFinalize(input), ['db-dump', repository.id, 'config']);
  add(planVerify(input), ['finalize']);
  add(planPrune(input, opts.expectedPrune), ['verify']);

  let afterPrevious = 'finalize';
  input.settings.hooks.after.forEach((hook, i) => {
    afterPrevious = add(planCommand('hook', { ...hook, id: `after-${i + 1}` }, []), [afterPrevious]).id;
  });
  for (const spec of input.settings.steps) add(planCommand('exec', spec, []), spec.needs ?? ['finalize']);

  // Needing every sink is needing every step, with an edge list a reader can follow.
  const needed = new Set(steps.flatMap((s) => s.needs));
  add(planUnlock(input, []), steps.filter((s) => !needed.has(s.id)).map((s) => s.id));
  const notes = [...dump.notes];
  if (!input.exportedSnapshots) notes.push('the server does not allow exported snapshots: the repository copy waits for the dump (dump first, then copy)');
  return { steps, notes };
}

function repositoryStep(input: PlanInput): PlannedStep {
  switch (input.settings.repository.strategy) {
    case 'tar':
      return planRepoTar(input);
    case 'rsync':
      return planRepoRsync(input);
    case 'incremental':
      return planRepoIncremental(input);
  }
}
