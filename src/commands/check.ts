import { readLastRun } from '../record/last-run.js';
import type { LastRun } from '../record/last-run.js';
import { formatDuration } from '../util/duration.js';
import { openJob } from './manage.js';

export interface Freshness {
  job: string;
  destination: string;
  ok: boolean;
  maxAgeSeconds: number;
  newest?: { id: string; completedAt: string; ageSeconds: number };
  lastRun?: LastRun;
  problems: string[];
}

/** Is the newest complete snapshot younger than maxAge, and did the last run succeed? */
export async function checkFreshness(file: string, maxAgeMs: number, now = new Date()): Promise<Freshness> {
  const { manifest, destination: dest } = await openJob(file);
  const { name } = manifest;
  const destination = dest.spec;
  const newest = (await dest.list()).filter((s) => s.complete).at(-1);
  const lastRun = await readLastRun(dest);
  const problems: string[] = [];
  let newestInfo: Freshness['newest'];
  if (!newest) problems.push(`no complete snapshot at ${destination}`);
  else {
    const completedAt = newest.record?.completedAt ?? newest.time.toISOString();
    const ageMs = now.getTime() - Date.parse(completedAt);
    newestInfo = { id: newest.id, completedAt, ageSeconds: Math.round(ageMs / 1000) };
    if (ageMs > maxAgeMs) problems.push(`the newest complete snapshot ${newest.id} is ${formatDuration(ageMs)} old (more than ${formatDuration(maxAgeMs)})`);
  }
  if (lastRun && lastRun.status !== 'ok') problems.push(`the last run (ended ${lastRun.endedAt}) ${lastRun.status}${lastRun.error ? `: ${lastRun.error}` : ''}`);
  return { job: name, destination, ok: problems.length === 0, maxAgeSeconds: Math.round(maxAgeMs / 1000), newest: newestInfo, lastRun, problems };
}

export function freshnessText(f: Freshness): string {
  if (f.ok) return `ok: ${f.job}: newest snapshot ${f.newest!.id} is ${formatDuration(f.newest!.ageSeconds * 1000)} old\n`;
  return f.problems.map((p) => `stale: ${f.job}: ${p}\n`).join('');
}

/** Prometheus textfile-collector format. */
export function freshnessPrometheus(f: Freshness): string {
  const label = `{job="${f.job.replace(/["\\]/g, '')}"}`;
  const lines = [
    '# HELP backplan_check_ok 1 when the newest snapshot is fresh and the last run succeeded.',
    '# TYPE backplan_check_ok gauge',
    `backplan_check_ok${label} ${f.ok ? 1 : 0}`,
    '# HELP backplan_snapshot_age_seconds Age of the newest complete snapshot.',
    '# TYPE backplan_snapshot_age_seconds gauge',
  ];
  if (f.newest) lines.push(`backplan_snapshot_age_seconds${label} ${f.newest.ageSeconds}`);
  lines.push('# HELP backplan_last_run_ok 1 when the last run succeeded.', '# TYPE backplan_last_run_ok gauge');
  if (f.lastRun) lines.push(`backplan_last_run_ok${label} ${f.lastRun.status === 'ok' ? 1 : 0}`);
  return lines.join('\n') + '\n';
}
