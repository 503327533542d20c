import type { Manifest } from '../manifest.js';
import { parseDuration } from '../util/duration.js';

export type NotifyState = 'start' | 'finish' | 'fail';

export interface PingResult {
  state: NotifyState;
  url: string;
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed, when it did. */
  error?: string;
}

const DEFAULT_TIMEOUT = '10s';
const DEFAULT_RETRIES = 3;
const RETRY_PAUSE_MS = 500;

/**
 * Pings the manifest's monitoring URL for a state (healthchecks-style), with a timeout per
 * attempt and retries. Never throws: a monitoring outage must not fail a backup.
 */
export async function notify(config: Manifest['notify'], state: NotifyState, body?: string): Promise<PingResult | undefined> {
  const url = config?.[state];
  if (!url) return undefined;
  const timeoutMs = parseDuration(config.timeout ?? DEFAULT_TIMEOUT);
  const attempts = 1 + (config.retries ?? DEFAULT_RETRIES);
  let error = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await fetch(url, { method: body ? 'POST' : 'GET', body, signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      if (response.ok) return { state, url, ok: true, attempts: attempt };
      error = `HTTP ${response.status}`;
    } catch (e) {
      const err = e as Error;
      error = err.name === 'TimeoutError' ? `no answer within ${config.timeout ?? DEFAULT_TIMEOUT}` : (err.cause as Error | undefined)?.message ?? err.message;
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS * attempt));
  }
  return { state, url, ok: false, attempts, error };
}
