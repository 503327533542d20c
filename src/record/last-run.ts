import type { Destination } from '../destination/types.js';

/** `DEST/.last-run.json`: how the latest run ended, for `backplan check` and monitoring. */
export interface LastRun {
  status: 'ok' | 'failed' | 'interrupted' | 'locked';
  endedAt: string;
  snapshot?: string;
  error?: string;
}

const LAST_RUN_FILE = '.last-run.json';

export async function recordLastRun(dest: Destination, run: LastRun): Promise<void> {
  await dest.writeText(LAST_RUN_FILE, JSON.stringify(run, null, 2) + '\n');
}

export async function readLastRun(dest: Destination): Promise<LastRun | undefined> {
  try {
    const text = await dest.readText(LAST_RUN_FILE);
    return text === undefined ? undefined : (JSON.parse(text) as LastRun);
  } catch {
    return undefined;
  }
}
