import type { Destination, SnapshotEntry } from '../destination/types.js';
import { formatBytes } from '../util/bytes.js';
import { textTable } from '../util/table.js';

export interface ListedSnapshot {
  id: string;
  kind: string;
  time: string;
  bytes?: number;
  state: 'complete' | 'incomplete';
  verified?: string;
  pinned: boolean;
  parent?: string;
}

export async function listDestination(destination: Destination): Promise<ListedSnapshot[]> {
  return (await destination.list()).map(toListed);
}

function toListed(e: SnapshotEntry): ListedSnapshot {
  return {
    id: e.id,
    kind: e.kind,
    time: e.time.toISOString(),
    bytes: e.record?.artefacts.reduce((n, a) => n + a.bytes + (a.covers?.bytes ?? 0), 0),
    state: e.complete ? 'complete' : 'incomplete',
    verified: e.verifiedAt,
    pinned: e.pinned,
    parent: e.record?.parent,
  };
}

export function listTable(rows: ListedSnapshot[]): string {
  if (rows.length === 0) return 'no snapshots\n';
  const header = ['id', 'kind', 'time', 'size', 'state', 'verified', 'pinned'];
  const cells = rows.map((r) => [r.id, r.kind, r.time, r.bytes === undefined ? '-' : formatBytes(r.bytes), r.state, r.verified ?? '-', r.pinned ? 'pinned' : '']);
  return textTable(header, cells);
}
