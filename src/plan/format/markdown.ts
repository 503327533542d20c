import type { Plan } from '../types.js';
import { topologicalOrder } from '../graph.js';
import { planMermaid } from './mermaid.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A job summary: the DAG as Mermaid, then a table of steps and their commands. */
export function planMarkdown(plan: Plan): string {
  const out = [
    `### backplan plan: ${plan.manifest.name}`,
    '',
    `Snapshot \`${plan.snapshot.id}\` (${plan.snapshot.kind}) → \`${plan.destination}\``,
    '',
    ...plan.notes.flatMap((n) => [`> ${n}`, '']),
    '```mermaid',
    planMermaid(plan).trimEnd(),
    '```',
    '',
    '| step | kind | needs | does | commands |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const s of topologicalOrder(plan.steps)) {
    const commands = s.commands.map((c) => `\`${cell(c)}\``).join('<br>');
    out.push(`| ${s.id} | ${s.kind} | ${s.needs.join(', ')} | ${cell(s.summary)} | ${commands} |`);
  }
  return out.join('\n') + '\n';
}
