/**
 * SIGINT/SIGTERM handling for the commands that start children. The first signal aborts the
 * command (children stopped, snapshot left .partial, lock released, scratch copies dropped);
 * a second one, or one arriving after the command has finished but before the process has
 * exited, exits at once. The handlers are never removed: without them a late signal would
 * kill the process with no exit code at all.
 *
 * The exit code names the first signal received: 130 for SIGINT, 143 for SIGTERM, which is
 * what systemd sends on `systemctl stop` (the unit lists 143 in SuccessExitStatus).
 */
import { BackplanError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

let received: NodeJS.Signals | undefined;

/** The first SIGINT or SIGTERM this process received, if any. */
export function receivedSignal(): NodeJS.Signals | undefined {
  return received;
}

export function interruptController(): AbortController {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
    if (controller.signal.aborted) process.exit(exitCodeFor('INTERRUPTED', received));
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
    if (controller.signal.aborted) throw new BackplanError('INTERRUPTED', received ? `interrupted (${received})` : 'interrupted', { cause: e });
    throw e;
  } finally {
    controller.abort();
  }
}

/**
 * An 'exit' listener: should an awaited operation never settle, node ends with code 13 (its code
 * for an unsettled top-level await) and no word; say so and exit 1 instead. An explicit
 * process.exit (a second Ctrl-C) keeps its own code.
 */
export function reportUnsettledExit(): void {
  if (process.exitCode !== 13) return;
  process.stderr.write('backplan: internal error (please report it): the command ended before it finished (an operation never completed)\n');
  process.exitCode = EXIT.failed;
}
