/**
 * What this host's process table says about a pid (Linux `/proc`), for telling a lock's holder
 * from a process that merely got its pid later. Elsewhere (no `/proc`) every answer is
 * undefined, and callers fall back to whether the pid is alive at all.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export interface ProcessFacts {
  /** Start time in clock ticks since boot (`/proc/<pid>/stat` field 22): with the boot id, names the process. */
  startTicks: number;
  /** When it started, by this host's clock (boot time, whole seconds, plus startTicks). */
  startedAt: Date;
  /** Exited, not yet reaped by its parent: it holds nothing any more. */
  zombie: boolean;
  /** Its argv (empty for a zombie or a kernel thread). */
  argv: string[];
}

/** One process, identified across pid reuse and reboots. */
export interface ProcessIdentity {
  bootId: string;
  startTicks: number;
}

export async function processFacts(pid: number): Promise<ProcessFacts | undefined> {
  const fields = await statFields(pid);
  const startTicks = startTicksOf(fields);
  if (!fields || !Number.isSafeInteger(startTicks)) return undefined;
  const boot = await bootClock();
  if (!boot) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return {
    startTicks,
    startedAt: new Date(boot.bootMs + (startTicks * 1000) / boot.ticksPerSecond),
    zombie: fields[0] === 'Z',
    argv: cmdline.split('\0').filter(Boolean),
  };
}

/**
 * This process, as a lock records its holder; undefined without `/proc`. Its start ticks only:
 * the boot clock costs a `getconf` process, and every run takes a lock.
 */
export async function ownIdentity(): Promise<ProcessIdentity | undefined> {
  const [bootId, fields] = await Promise.all([currentBootId(), statFields(process.pid)]);
  const startTicks = startTicksOf(fields);
  return bootId !== undefined && Number.isSafeInteger(startTicks) ? { bootId, startTicks } : undefined;
}

/** `/proc/<pid>/stat` from field 3 on (index 0); undefined without it. */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // Field 2, the command name in parentheses, may itself hold spaces and parentheses.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field 22, the start time in clock ticks since boot; NaN without it. */
function startTicksOf(fields: string[] | undefined): number {
  return Number(fields?.[22 - 3]);
}

/** Changes at every boot (`/proc/sys/kernel/random/boot_id`). */
export async function currentBootId(): Promise<string | undefined> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined))?.trim() || undefined;
}

let clock: Promise<{ bootMs: number; ticksPerSecond: number } | undefined> | undefined;

/** Boot time (`btime` of /proc/stat) and clock ticks per second (`getconf CLK_TCK`), read once. */
function bootClock(): Promise<{ bootMs: number; ticksPerSecond: number } | undefined> {
  clock ??= (async () => {
    const stat = await readFile('/proc/stat', 'utf8').catch(() => '');
    const btime = /^btime (\d+)$/m.exec(stat)?.[1];
    if (btime === undefined) return undefined;
    const ticks = await promisify(execFile)('getconf', ['CLK_TCK']).then(
      ({ stdout }) => Number(stdout.trim()),
      () => NaN,
    );
    // 100 on every Linux architecture in practice, when getconf is missing.
    return { bootMs: Number(btime) * 1000, ticksPerSecond: ticks > 0 ? ticks : 100 };
  })();
  return clock;
}
