/** Waiting for an event rather than a clock: a condition polled until it holds, or a loud failure. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `holds` every `everyMs` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, holds: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs}ms for ${what}, in vain`);
    await sleep(everyMs);
  }
}
