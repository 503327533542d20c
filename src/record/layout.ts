/** A full snapshot stands alone; an incremental builds on its parent. */
export type SnapshotKind = 'full' | 'incr';

/** `2026-11-22T030000Z-full`: sortable, readable, and safe in every filesystem. */
export function snapshotId(time: Date, kind: SnapshotKind): string {
  const stamp = time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '');
  return `${stamp}-${kind}`;
}

const ID = /^(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})(\d{2})Z-(full|incr)$/;

export function parseSnapshotId(id: string): { time: Date; kind: SnapshotKind } | undefined {
  const m = ID.exec(id);
  if (!m) return undefined;
  return { time: new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`), kind: m[5] as SnapshotKind };
}

export const PARTIAL_PREFIX = '.partial-';
export const SNAPSHOT_JSON = 'snapshot.json';
