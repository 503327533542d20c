/**
 * Retention: which complete snapshots survive a prune, and why.
 *
 * The rules reproduce borg's `prune_split` (what borgmatic users already know), then add the
 * guarantees backplan promises on top: pinned snapshots stay, the newest complete snapshot stays,
 * and nothing a kept incremental depends on is deleted. Pure: no clock, no file system, so
 * `plan`, `prune --dry-run` and the real prune all agree.
 */
import type { Retention } from '../manifest.js';
import type { SnapshotKind } from './layout.js';

export interface SnapshotInfo {
  id: string;
  time: Date;
  kind: SnapshotKind;
  complete: boolean;
  pinned: boolean;
  /** Id of the snapshot an incremental depends on. */
  parent?: string;
}

/** Why a snapshot survives, e.g. 'last 1/3', 'weekly 1/4 (2026-W47)', 'pinned'. */
export type KeepReason = string;

export interface RetentionDecision {
  /** Newest first. */
  keep: { id: string; reasons: KeepReason[] }[];
  /** Newest first. */
  prune: { id: string; reason: string }[];
}

type PeriodRule = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

/** Each calendar rule, in the order borg applies them, with the UTC period a time falls in. */
const PERIOD_RULES: { rule: PeriodRule; option: keyof Retention; period: (t: Date) => string }[] = [
  { rule: 'hourly', option: 'keepHourly', period: (t) => t.toISOString().slice(0, 13) },
  { rule: 'daily', option: 'keepDaily', period: (t) => t.toISOString().slice(0, 10) },
  { rule: 'weekly', option: 'keepWeekly', period: isoWeek },
  { rule: 'monthly', option: 'keepMonthly', period: (t) => t.toISOString().slice(0, 7) },
  { rule: 'yearly', option: 'keepYearly', period: (t) => t.toISOString().slice(0, 4) },
];

const POLICY_OPTIONS: (keyof Retention)[] = ['keepLast', ...PERIOD_RULES.map((r) => r.option)];

const MS_PER_DAY = 86_400_000;

/**
 * ISO 8601 week of a UTC time as 'YYYY-Www'. The week belongs to the year of its Thursday,
 * so 2027-01-01 (a Friday) is in 2026-W53, not 2027-W01.
 */
export function isoWeek(t: Date): string {
  const day = Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
  const isoWeekday = new Date(day).getUTCDay() || 7; // Monday 1 … Sunday 7
  const thursday = new Date(day + (4 - isoWeekday) * MS_PER_DAY);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * MS_PER_DAY)) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

export function decideRetention(snapshots: SnapshotInfo[], policy: Retention): RetentionDecision {
  // Partials are not backups: the runner clears them, retention neither counts nor deletes them.
  const complete = newestFirst(snapshots.filter((s) => s.complete));
  const reasons = new Map<string, KeepReason[]>(complete.map((s) => [s.id, []]));
  const addReason = (id: string, reason: KeepReason) => reasons.get(id)?.push(reason);

  if (isEmptyPolicy(policy)) complete.forEach((s) => addReason(s.id, 'no retention policy'));
  else applyRules(complete, policy, addReason);
  complete.filter((s) => s.pinned).forEach((s) => addReason(s.id, 'pinned'));
  // A policy of all zeros must never leave the destination without a backup.
  if (complete.length > 0) addReason(complete[0].id, 'newest complete snapshot');
  keepParentChains(complete, reasons);

  const notSelected = `not selected by ${describePolicy(policy)}`;
  const decision: RetentionDecision = { keep: [], prune: [] };
  for (const s of complete) {
    const why = reasons.get(s.id) ?? [];
    if (why.length > 0) decision.keep.push({ id: s.id, reasons: why });
    else decision.prune.push({ id: s.id, reason: notSelected });
  }
  return decision;
}

/** Newest first; equal times fall back to the id so the outcome never depends on input order. */
function newestFirst(snapshots: SnapshotInfo[]): SnapshotInfo[] {
  const byIdDescending = (a: SnapshotInfo, b: SnapshotInfo) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  return [...snapshots].sort((a, b) => b.time.getTime() - a.time.getTime() || byIdDescending(a, b));
}

function isEmptyPolicy(policy: Retention): boolean {
  return POLICY_OPTIONS.every((option) => policy[option] === undefined);
}

/** keepLast, then each calendar rule in order; a snapshot is credited to the first rule that keeps it. */
function applyRules(sorted: SnapshotInfo[], policy: Retention, addReason: (id: string, r: KeepReason) => void): void {
  const kept = new Set<string>();
  const keepLast = policy.keepLast ?? 0;
  sorted.slice(0, keepLast).forEach((s, i) => {
    kept.add(s.id);
    addReason(s.id, `last ${i + 1}/${keepLast}`);
  });
  for (const { rule, option, period } of PERIOD_RULES) {
    const n = policy[option] ?? 0;
    for (const [s, reason] of splitByPeriod(sorted, rule, n, period, kept)) {
      kept.add(s.id);
      addReason(s.id, reason);
    }
  }
}

/**
 * borg's `prune_split`: the newest snapshot of each period, skipping periods whose newest is
 * already kept (they do not count toward n). When the history runs out before n periods, the
 * oldest snapshot is kept as well, so a young repository keeps its deepest history.
 */
function splitByPeriod(
  sorted: SnapshotInfo[],
  rule: PeriodRule,
  n: number,
  period: (t: Date) => string,
  alreadyKept: ReadonlySet<string>,
): [SnapshotInfo, KeepReason][] {
  const picked: [SnapshotInfo, KeepReason][] = [];
  if (n <= 0) return picked;
  let last: string | undefined;
  for (const s of sorted) {
    const key = period(s.time);
    if (key === last) continue;
    last = key;
    if (alreadyKept.has(s.id)) continue;
    picked.push([s, `${rule} ${picked.length + 1}/${n} (${key})`]);
    if (picked.length === n) return picked;
  }
  const oldest = sorted[sorted.length - 1];
  if (oldest && !alreadyKept.has(oldest.id) && !picked.some(([s]) => s.id === oldest.id)) {
    picked.push([oldest, `${rule}[oldest] ${picked.length + 1}/${n} (${period(oldest.time)})`]);
  }
  return picked;
}

/** A kept incremental is useless without its parent, so keep every ancestor of one. */
function keepParentChains(sorted: SnapshotInfo[], reasons: Map<string, KeepReason[]>): void {
  const byId = new Map(sorted.map((s) => [s.id, s]));
  const pending = sorted.filter((s) => (reasons.get(s.id) ?? []).length > 0);
  const visited = new Set<string>();
  for (let child = pending.pop(); child; child = pending.pop()) {
    if (visited.has(child.id)) continue; // a corrupt record with a cycle must not loop forever
    visited.add(child.id);
    const parent = child.kind === 'incr' && child.parent !== undefined ? byId.get(child.parent) : undefined;
    if (!parent) continue;
    reasons.get(parent.id)?.push(`needed by ${child.id}`);
    pending.push(parent);
  }
}

/** 'keepLast 3, keepDaily 7, …': the options the user set, in the order borg applies them. */
function describePolicy(policy: Retention): string {
  return POLICY_OPTIONS.filter((o) => policy[o] !== undefined)
    .map((o) => `${o} ${policy[o]}`)
    .join(', ');
}
