/**
 * SIGINT/SIGTERM handling for the commands that start children. The first signal aborts the
 * command (children stopped, snapshot left .partial, lock released, scratch copies dropped);
 * a second one, or one arriving after the command has finished but before the process has
 * exited, exits 130 at once. The handlers are never removed: without them a late signal would
 * kill the process with no exit code at all.
 */
import { BackplanError } from '../errors.js';
import { EXIT } from './exit-codes.js';

export function interruptController(): AbortController {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller;
}

/** Runs `fn` under `interruptController`; whatever stopped first, an interrupted command throws INTERRUPTED. */
export async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = interruptController();
  try {
    return await fn(controller.signal);
  } catch (e) {
    if (controller.signal.aborted) throw new BackplanError('INTERRUPTED', 'interrupted', { cause: e });
    throw e;
  } finally {
    controller.abort();
  }
}
