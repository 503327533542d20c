/**
 * `backplan unlock FILE`: breaks the destination lock by hand, as `borg break-lock` does, but
 * only after checking its holder. A stale lock (dead holder, reused pid, an unreadable file) is
 * removed; a holder still running on this host, or one on another host, keeps its lock unless
 * --force.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BackplanError } from '../errors.js';
import { breakLock, describeLock, inspectLock } from '../record/lock.js';
import type { FoundLock } from '../record/lock.js';
import { openJob } from './manage.js';

/** How long to let another process finish taking the lock over (its takeover takes milliseconds). */
const BUSY_TRIES = 100;
const BUSY_POLL_MS = 20;

/** What was done, as a line for the user. */
export async function unlockFile(file: string, opts: { force: boolean }): Promise<string> {
  const { destination } = await openJob(file);
  const found = await inspectLock(destination);
  if (found.kind === 'free') return `no lock at ${found.location}: nothing to do\n`;
  const refused = refusal(found);
  if (refused && !opts.force) throw refused;
  for (let tries = 1; ; tries++) {
    const outcome = await breakLock(destination, found);
    if (outcome === 'removed') break;
    if (outcome === 'changed' || tries >= BUSY_TRIES) {
      throw new BackplanError('UNLOCK_REFUSED', `${found.location} changed while it was being checked: another run is taking the lock, or has taken it`, {
        hint: 'run backplan unlock again to check the new holder',
      });
    }
    await sleep(BUSY_POLL_MS);
  }
  const why = found.kind === 'held' && found.stale ? `, ${found.stale}` : '';
  return `removed ${found.location}${refused ? ' (--force)' : ''}, ${describeLock(found)}${why}\n`;
}

/** Why a lock is kept without --force; undefined when its holder is gone (or it names none). */
function refusal(found: FoundLock): BackplanError | undefined {
  if (found.kind === 'unreadable' || found.stale) return undefined;
  const { pid, host } = found.holder;
  if (found.elsewhere) {
    return new BackplanError('UNLOCK_REFUSED', `${found.location} is ${describeLock(found)}: another host, where backplan cannot tell whether it still runs`, {
      hint: `make sure process ${pid} on ${host} is not a running backplan (ps -p ${pid} there), then pass --force`,
    });
  }
  return new BackplanError('UNLOCK_REFUSED', `${found.location} is ${describeLock(found)}, which is still running`, {
    hint: `let it finish, or stop it (kill ${pid}); --force removes the lock anyway, letting another run write the destination beside it`,
  });
}
