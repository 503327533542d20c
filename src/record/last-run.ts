import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonSynced } from './publish.js';
import { readRemoteFile } from './remote/destination.js';
import { remoteDestination } from '../util/destination.js';

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
  const path = join(destination, LAST_RUN_FILE);
  const remote = remoteDestination(path);
  try {
    const text = remote ? await readRemoteFile(remote) : await readFile(path, 'utf8');
    return text === undefined ? undefined : (JSON.parse(text) as LastRun);
  } catch {
    return undefined;
  }
}
