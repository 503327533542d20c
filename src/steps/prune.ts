import type { Retention } from '../manifest.js';
import type { PlannedStep } from '../plan/types.js';
import { pruneDestination } from '../record/prune.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface PruneOptions {
  retention: Retention;
  /** Ids the plan expects to delete, given the snapshots present when it was made. */
  expected: string[];
}

/** Applies retention; it runs only after the new snapshot is complete and verified. */
export function planPrune(input: PlanInput, expected: string[]): PlannedStep<PruneOptions> {
  const rules = Object.entries(input.settings.retention).map(([k, v]) => `${k} ${v}`);
  return {
    id: 'prune',
    kind: 'prune',
    needs: [],
    always: false,
    summary: rules.length ? `apply retention (${rules.join(', ')})` : 'no retention policy: keep every snapshot',
    commands: expected.map((id) => `delete ${input.destination.location(id)}`),
    options: { retention: input.settings.retention, expected },
  };
}

export const runPrune: StepRun<PruneOptions> = async (step, ctx) => {
  const decision = await pruneDestination(ctx.destination, ctx.plan.manifest.name, step.options.retention, { dryRun: false });
  for (const p of decision.prune) ctx.emit({ type: 'step-log', step: step.id, level: 'info', message: `deleted ${p.id}: ${p.reason}` });
};
