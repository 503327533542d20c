import type { Plan } from '../types.js';

/** A Mermaid flowchart of the DAG; GitHub renders it in job summaries and pull requests. */
export function planMermaid(plan: Plan): string {
  const node = (id: string) => `s_${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const lines = ['flowchart LR'];
  for (const step of plan.steps) lines.push(`  ${node(step.id)}["${step.id}<br/><small>${step.kind}</small>"]`);
  for (const step of plan.steps) for (const need of step.needs) lines.push(`  ${node(need)} --> ${node(step.id)}`);
  return lines.join('\n') + '\n';
}
