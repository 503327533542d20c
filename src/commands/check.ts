import type { Manifest } from '../manifest.js';
import { settingsOf } from '../plan/settings.js';
import { describeState, newestPublished, newestRestorable } from '../record/health.js';
import { readLastRun } from '../record/last-run.js';
import type { LastRun } from '../record/last-run.js';
import { inspectLock } from '../record/lock.js';
import type { LockHolder } from '../record/lock.js';
import { formatDuration } from '../util/duration.js';
import { assessJob, openJob } from './manage.js';

export interface Freshness {
  job: string;
  destination: string;
  ok: boolean;
  maxAgeSeconds: number;
  newest?: { id: string; completedAt: string; ageSeconds: number };
  lastRun?: LastRun;
  problems: string[];
}

/**
 * Healthy when the newest restorable snapshot is younger than maxAge, the newest snapshot is
 * itself restorable (not damaged, chain whole, last verify passed), the last run succeeded, and
 * no lock has been held far longer than a run should take.
 */
export async function checkFreshness(file: string, maxAgeMs: number, now = new Date()): Promise<Freshness> {
  const job = await openJob(file);
  const { manifest, destination: dest } = job;
  const assessed = await assessJob(job);
  const [lastRun, lock] = await Promise.all([readLastRun(dest), inspectLock(dest).catch(() => undefined)]);
  const holder = lock?.kind === 'held' ? lock.holder : undefined;
  const problems: string[] = [];
  const restorable = newestRestorable(assessed);
  let newestInfo: Freshness['newest'];
  if (!restorable) problems.push(`no restorable snapshot of ${manifest.name} at ${dest.spec}`);
  else {
    const completedAt = restorable.record.completedAt ?? restorable.time.toISOString();
    const ageMs = now.getTime() - Date.parse(completedAt);
    newestInfo = { id: restorable.id, completedAt, ageSeconds: Math.round(ageMs / 1000) };
    if (ageMs > maxAgeMs) problems.push(`the newest restorable snapshot ${restorable.id} is ${formatDuration(ageMs)} old (more than ${formatDuration(maxAgeMs)})`);
  }
  const newest = newestPublished(assessed);
  if (newest && newest.state !== 'complete') problems.push(`the newest snapshot ${newest.id} is ${describeState(newest)}`);
  if (lastRun && lastRun.status !== 'ok') problems.push(`the last run (ended ${lastRun.endedAt}) ${lastRun.status}${lastRun.error ? `: ${lastRun.error}` : ''}`);
  const lockProblem = staleLockProblem(holder, lockLimitMs(manifest, maxAgeMs), now);
  if (lockProblem) problems.push(lockProblem);
  return { job: manifest.name, destination: dest.spec, ok: problems.length === 0, maxAgeSeconds: Math.round(maxAgeMs / 1000), newest: newestInfo, lastRun, problems };
}

/** How long a run may hold the lock: twice the dump's timeout when one is set, else the age limit. */
function lockLimitMs(manifest: Manifest, maxAgeMs: number): number {
  const dumpTimeout = settingsOf(manifest).database.timeoutMs;
  return dumpTimeout !== undefined ? 2 * dumpTimeout : maxAgeMs;
}

function staleLockProblem(holder: LockHolder | undefined, limitMs: number, now: Date): string | undefined {
  const heldMs = holder ? now.getTime() - Date.parse(holder.startedAt) : NaN;
  if (!(heldMs > limitMs)) return undefined;
  return `the destination lock has been held for ${formatDuration(heldMs)} (since ${holder!.startedAt}, by process ${holder!.pid} on ${holder!.host}), longer than a run should take (${formatDuration(limitMs)}); check that process, or break the lock with backplan unlock`;
}

export function freshnessText(f: Freshness): string {
  if (f.ok) return `ok: ${f.job}: newest restorable snapshot ${f.newest!.id} is ${formatDuration(f.newest!.ageSeconds * 1000)} old\n`;
  return f.problems.map((p) => `stale: ${f.job}: ${p}\n`).join('');
}

/** Prometheus textfile-collector format. */
export function freshnessPrometheus(f: Freshness): string {
  const label = `{job="${f.job.replace(/["\\]/g, '')}"}`;
  const lines = [
    '# HELP backplan_check_ok 1 when a restorable snapshot is fresh, the newest is restorable and the last run succeeded.',
    '# TYPE backplan_check_ok gauge',
    `backplan_check_ok${label} ${f.ok ? 1 : 0}`,
    '# HELP backplan_snapshot_age_seconds Age of the newest restorable snapshot.',
    '# TYPE backplan_snapshot_age_seconds gauge',
  ];
  if (f.newest) lines.push(`backplan_snapshot_age_seconds${label} ${f.newest.ageSeconds}`);
  lines.push('# HELP backplan_last_run_ok 1 when the last run succeeded.', '# TYPE backplan_last_run_ok gauge');
  if (f.lastRun) lines.push(`backplan_last_run_ok${label} ${f.lastRun.status === 'ok' ? 1 : 0}`);
  return lines.join('\n') + '\n';
}
