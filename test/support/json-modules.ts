/**
 * A module loader hook (registered with node:module's `register`) that loads the JSON files of
 * @actions/workflow-parser as JSON modules. The package imports its schema without
 * `with { type: 'json' }`, which node refuses (actions/languageservices#387).
 */
import { readFile } from 'node:fs/promises';
import type { LoadHook } from 'node:module';

export const load: LoadHook = async (url, context, nextLoad) => {
  if (url.startsWith('file:') && url.endsWith('.json') && url.includes('/node_modules/@actions/')) {
    return { format: 'json', source: await readFile(new URL(url), 'utf8'), shortCircuit: true };
  }
  return nextLoad(url, context);
};
