import type { Plan } from '../types.js';
import { topologicalOrder } from '../graph.js';

/** The plan for a terminal: snapshot, notes, then each step with its edges and commands. */
export function planText(plan: Plan): string {
  const { snapshot, profile } = plan;
  const lines = [
    `plan for ${plan.manifest.name} (${plan.manifest.file})`,
    `  snapshot:    ${snapshot.id} (${snapshot.kind}${snapshot.parent ? `, parent ${snapshot.parent}` : ''})`,
    `  destination: ${plan.destination}`,
    `  database:    ${profile.database.user}@${profile.database.host}:${profile.database.port}/${profile.database.name}`,
    `  repository:  ${profile.repository.path} (${profile.repository.layout})`,
  ];
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  lines.push('', 'steps:');
  for (const step of topologicalOrder(plan.steps)) {
    const flags = [step.kind, step.always ? 'always' : undefined, step.timeoutMs ? `timeout ${step.timeoutMs / 1000}s` : undefined];
    lines.push(`  ${step.id} [${flags.filter(Boolean).join(', ')}]${step.needs.length ? ` needs ${step.needs.join(', ')}` : ''}`);
    lines.push(`      ${step.summary}`);
    for (const command of step.commands) lines.push(`      $ ${command}`);
  }
  return lines.join('\n') + '\n';
}
