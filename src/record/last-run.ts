import type { Destination } from '../destination/types.js';

/** `DEST/.last-run.json`: how the latest run ended, for `backplan check` and monitoring. */
export interface LastRun {
  status: 'ok' | 'failed' | 'interrupted' | 'locked';
  /** Absent in files written before backplan recorded it. */
  startedAt?: string;
  endedAt: string;
  /** From start to end, waiting for the lock included. */
  durationMs?: number;
  snapshot?: string;
  error?: string;
  /**
   * When the newest successful run ended, this one or an earlier one: carried over from the
   * previous file by a run that fails, so monitoring still knows when backups last worked.
   */
  lastSuccessAt?: string;
}

const LAST_RUN_FILE = '.last-run.json';

export async function recordLastRun(dest: Destination, run: Omit<LastRun, 'lastSuccessAt'>): Promise<void> {
  const lastSuccessAt = run.status === 'ok' ? run.endedAt : lastSuccessOf(await readLastRun(dest));
  const record: LastRun = { ...run, ...(lastSuccessAt ? { lastSuccessAt } : {}) };
  await dest.writeText(LAST_RUN_FILE, JSON.stringify(record, null, 2) + '\n');
}

export async function readLastRun(dest: Destination): Promise<LastRun | undefined> {
  try {
    const text = await dest.readText(LAST_RUN_FILE);
    return text === undefined ? undefined : (JSON.parse(text) as LastRun);
  } catch {
    return undefined;
  }
}

/** The end of the newest successful run a record knows of (an older file lacks lastSuccessAt). */
export function lastSuccessOf(run: LastRun | undefined): string | undefined {
  if (!run) return undefined;
  return run.status === 'ok' ? run.endedAt : run.lastSuccessAt;
}
