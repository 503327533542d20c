import { join } from 'node:path';
import { writeJsonSynced } from './publish.js';
import { readText } from './files.js';

/** `DEST/.last-run.json`: how the latest run ended, for `backplan check` and monitoring. */
export interface LastRun {
  status: 'ok' | 'failed' | 'interrupted' | 'locked';
  endedAt: string;
  snapshot?: string;
  error?: string;
}

const LAST_RUN_FILE = '.last-run.json';

export async function recordLastRun(destination: string, run: LastRun): Promise<void> {
  await writeJsonSynced(join(destination, LAST_RUN_FILE), run);
}

export async function readLastRun(destination: string): Promise<LastRun | undefined> {
  try {
    const text = await readText(join(destination, LAST_RUN_FILE));
    return text === undefined ? undefined : (JSON.parse(text) as LastRun);
  } catch {
    return undefined;
  }
}
