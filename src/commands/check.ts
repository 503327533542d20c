import type { Manifest } from '../manifest.js';
import { settingsOf } from '../plan/settings.js';
import { describeState, newestPublished, newestRestorable } from '../record/health.js';
import type { SnapshotState } from '../record/health.js';
import { lastSuccessOf, readLastRun } from '../record/last-run.js';
import type { LastRun } from '../record/last-run.js';
import { inspectLock } from '../record/lock.js';
import type { LockHolder } from '../record/lock.js';
import { snapshotBytes } from '../record/snapshot-record.js';
import { formatDuration } from '../util/duration.js';
import { assessJob, openJob } from './manage.js';

export interface Freshness {
  job: string;
  destination: string;
  ok: boolean;
  /** When the check ran. */
  checkedAt: string;
  maxAgeSeconds: number;
  newest?: { id: string; completedAt: string; ageSeconds: number; bytes: number };
  lastRun?: LastRun;
  /** When the newest successful run ended, from .last-run.json. */
  lastSuccessAt?: string;
  /** How many of the job's snapshots are in each state. */
  states: Record<SnapshotState, number>;
  problems: string[];
}

const STATES: SnapshotState[] = ['complete', 'damaged', 'broken-chain', 'partial'];

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
    newestInfo = { id: restorable.id, completedAt, ageSeconds: Math.round(ageMs / 1000), bytes: snapshotBytes(restorable.record) };
    if (ageMs > maxAgeMs) problems.push(`the newest restorable snapshot ${restorable.id} is ${formatDuration(ageMs)} old (more than ${formatDuration(maxAgeMs)})`);
  }
  const newest = newestPublished(assessed);
  if (newest && newest.state !== 'complete') problems.push(`the newest snapshot ${newest.id} is ${describeState(newest)}`);
  if (lastRun && lastRun.status !== 'ok') problems.push(`the last run (ended ${lastRun.endedAt}) ${lastRun.status}${lastRun.error ? `: ${lastRun.error}` : ''}`);
  const lockProblem = staleLockProblem(holder, lockLimitMs(manifest, maxAgeMs), now);
  if (lockProblem) problems.push(lockProblem);
  const states = Object.fromEntries(STATES.map((state) => [state, assessed.filter((s) => s.state === state).length])) as Freshness['states'];
  return {
    job: manifest.name,
    destination: dest.spec,
    ok: problems.length === 0,
    checkedAt: now.toISOString(),
    maxAgeSeconds: Math.round(maxAgeMs / 1000),
    newest: newestInfo,
    lastRun,
    lastSuccessAt: lastSuccessOf(lastRun),
    states,
    problems,
  };
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

/**
 * Prometheus text format, for node_exporter's textfile collector. The file is read long after it
 * was written, so it holds times, never ages: alert on `time() - backplan_last_success_timestamp_seconds
 * > backplan_max_age_seconds`. Every series is always present (0 = never, none), so an alert
 * never goes quiet because a series is absent. The job is the `backup_job` label: `job` and
 * `instance` belong to the scrape target, and Prometheus would rename a `job` label found in
 * the file to `exported_job`.
 */
export function freshnessPrometheus(f: Freshness): string {
  const job = { backup_job: f.job };
  const seconds = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : 0);
  const run = f.lastRun;
  return [
    gauge('backplan_check_ok', 'Whether backplan check passed when this file was written (1) or not (0): a restorable snapshot younger than the threshold, the newest snapshot restorable, the last run successful, no stuck lock.', [[job, f.ok ? 1 : 0]]),
    gauge('backplan_check_timestamp_seconds', 'When backplan check wrote this file, in seconds since the epoch.', [[job, seconds(f.checkedAt)]]),
    gauge('backplan_max_age_seconds', 'The threshold passed to backplan check --max-age: the newest restorable snapshot should be younger.', [[job, f.maxAgeSeconds]]),
    gauge('backplan_last_run_timestamp_seconds', 'When the last run ended (successful or not), in seconds since the epoch; 0 when none is recorded.', [[job, seconds(run?.endedAt)]]),
    gauge('backplan_last_run_success', 'Whether the last run succeeded (1) or failed or was interrupted (0); 0 when none is recorded.', [[job, run?.status === 'ok' ? 1 : 0]]),
    gauge('backplan_last_run_duration_seconds', 'How long the last run took, waiting for the lock included; 0 when not recorded.', [[job, (run?.durationMs ?? 0) / 1000]]),
    gauge('backplan_last_success_timestamp_seconds', 'When the newest successful run ended, in seconds since the epoch; 0 when none is recorded.', [[job, seconds(f.lastSuccessAt)]]),
    gauge('backplan_restorable_snapshot_timestamp_seconds', 'When the newest restorable snapshot was completed, in seconds since the epoch; 0 when there is none.', [[job, seconds(f.newest?.completedAt)]]),
    gauge('backplan_restorable_snapshot_size_bytes', 'Size of the newest restorable snapshot (an incremental: its own delta); 0 when there is none.', [[job, f.newest?.bytes ?? 0]]),
    gauge('backplan_snapshots', 'Snapshots of the job at the destination, by state (complete = restorable).', STATES.map((state) => [{ ...job, state }, f.states[state]])),
  ].join('');
}

type Labels = Record<string, string>;

function gauge(name: string, help: string, samples: [Labels, number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const [labels, value] of samples) lines.push(`${name}{${formatLabels(labels)}} ${value}`);
  return lines.join('\n') + '\n';
}

/** Label values escaped as the text format requires: backslash, double quote, newline. */
function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}
