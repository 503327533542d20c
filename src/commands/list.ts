import type { AssessedSnapshot, SnapshotState } from '../record/health.js';
import { snapshotBytes } from '../record/snapshot-record.js';
import { formatBytes } from '../util/bytes.js';
import { textTable } from '../util/table.js';

export interface ListedSnapshot {
  id: string;
  kind: string;
  time: string;
  bytes?: number;
  state: SnapshotState;
  /** Why the snapshot is not complete. */
  problem?: string;
  verified?: string;
  pinned: boolean;
  parent?: string;
}

export function listed(assessed: AssessedSnapshot[]): ListedSnapshot[] {
  return assessed.map((s) => ({
    id: s.id,
    kind: s.kind,
    time: s.time.toISOString(),
    bytes: s.record ? snapshotBytes(s.record) : undefined,
    state: s.state,
    ...(s.problem ? { problem: s.problem } : {}),
    verified: s.verification?.verifiedAt,
    pinned: s.pinned,
    parent: s.record?.parent,
  }));
}

export function listTable(rows: ListedSnapshot[]): string {
  if (rows.length === 0) return 'no snapshots\n';
  const header = ['id', 'kind', 'parent', 'time', 'size', 'state', 'verified', 'pinned'];
  const cells = rows.map((r) => [r.id, r.kind, r.parent ?? '-', r.time, r.bytes === undefined ? '-' : formatBytes(r.bytes), r.state, r.verified ?? '-', r.pinned ? 'pinned' : '']);
  const problems = rows.filter((r) => r.problem).map((r) => `${r.id}: ${r.state}: ${r.problem}\n`);
  return textTable(header, cells) + (problems.length > 0 ? '\n' + problems.join('') : '');
}
