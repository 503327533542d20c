/** The usual benchmark script: every shape asked for, measured in one harness, then one ratio table. */
import type { CommonOptions } from './args.js';
import { withHarness } from './harness.js';
import type { Harness } from './harness.js';
import { toolVersions } from './plain.js';
import { conditions, publish, ratioTable } from './report.js';
import type { RatioRow } from './report.js';
import { shape } from './shapes.js';
import type { Shape } from './shapes.js';

export interface ShapeRows {
  rows: RatioRow[];
  /** The shape as generated (describe()), listed above the table. */
  label: string;
}

export async function benchShapes(job: string, title: string, o: CommonOptions, intro: string, measure: (h: Harness, s: Shape) => Promise<ShapeRows>): Promise<void> {
  const results: ShapeRows[] = [];
  let tools = '';
  await withHarness(job, o, async (h) => {
    for (const name of o.shapes) results.push(await measure(h, shape(name, o.nodes)));
    tools = await toolVersions(h.env);
  });
  await publish(job, o.out, title, [intro, '', ...results.map((x) => `- ${x.label}`), '', ratioTable(results.flatMap((x) => x.rows)), conditions(tools), '']);
}
