import type { Plan } from '../types.js';
import { planMarkdown } from './markdown.js';
import { planMermaid } from './mermaid.js';
import { planText } from './text.js';

export type PlanFormat = 'text' | 'json' | 'mermaid' | 'markdown';
export const PLAN_FORMATS: PlanFormat[] = ['text', 'json', 'mermaid', 'markdown'];

export function formatPlan(plan: Plan, format: PlanFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(plan, null, 2) + '\n';
    case 'mermaid':
      return planMermaid(plan);
    case 'markdown':
      return planMarkdown(plan);
    case 'text':
      return planText(plan);
  }
}
