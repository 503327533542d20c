import { BackplanError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import type { PlannedStep } from './types.js';

/** Where a step came from in the manifest, for pointing at user steps' mistakes. */
export type StepPosition = (stepId: string, field?: 'id' | 'needs', index?: number) => SourcePos | undefined;
// For field 'id', index is which of the user steps with that id (0 = the first); for 'needs', the item.

/**
 * Checks the DAG before anything runs: duplicate ids, `needs` naming no step, and cycles,
 * each reported with the names involved (go-task does the same up front).
 */
export function checkGraph(steps: PlannedStep[], positionOf: StepPosition = () => undefined): BackplanError[] {
  const errors: BackplanError[] = [];
  const ids = new Set<string>();
  /** How many user steps (kind exec) with each id came before: which `steps:` entry to point at. */
  const userSeen = new Map<string, number>();
  for (const step of steps) {
    const nth = userSeen.get(step.id) ?? 0;
    if (step.kind === 'exec') userSeen.set(step.id, nth + 1);
    if (ids.has(step.id)) {
      const pos = positionOf(step.id, 'id', step.kind === 'exec' ? nth : 0);
      errors.push(new BackplanError('GRAPH', `duplicate step id "${step.id}"`, { pos, hint: 'give every step its own id; built-in ids are taken' }));
    }
    ids.add(step.id);
  }
  for (const step of steps) {
    step.needs.forEach((need, i) => {
      if (!ids.has(need)) {
        errors.push(
          new BackplanError('GRAPH', `step "${step.id}" needs unknown step "${need}"`, {
            pos: positionOf(step.id, 'needs', i),
            hint: `known steps: ${[...ids].join(', ')}`,
          }),
        );
      }
    });
  }
  if (errors.length === 0) {
    const cycle = findCycle(steps);
    if (cycle) {
      errors.push(new BackplanError('GRAPH', `steps form a cycle: ${cycle.join(' needs ')}`, { pos: positionOf(cycle[0]!, 'needs') }));
    }
  }
  return errors;
}

/** A cycle as a list of ids whose last equals its first, or undefined. Depth-first, colouring. */
function findCycle(steps: PlannedStep[]): string[] | undefined {
  const needs = new Map(steps.map((s) => [s.id, s.needs]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const need of needs.get(id) ?? []) {
      const cycle = visit(need);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const step of steps) {
    const cycle = visit(step.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Steps in an order where every step follows its needs (the graph is known to be acyclic). */
export function topologicalOrder(steps: PlannedStep[]): PlannedStep[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const out: PlannedStep[] = [];
  const seen = new Set<string>();
  const add = (step: PlannedStep) => {
    if (seen.has(step.id)) return;
    seen.add(step.id);
    step.needs.forEach((n) => add(byId.get(n)!));
    out.push(step);
  };
  steps.forEach(add);
  return out;
}
