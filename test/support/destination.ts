/** Checks and fabrications of a destination folder, for tests that break runs or prune history. */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSnapshotId, PARTIAL_PREFIX, SNAPSHOT_JSON } from '../../src/record/layout.js';
import type { SnapshotRecord } from '../../src/record/snapshot-record.js';
import { LocalDestination } from '../../src/destination/local/local.js';
import { verifySnapshot } from '../../src/record/verify.js';

export interface DestinationState {
  /** Folders named like a snapshot id (no `.partial-` prefix). */
  published: string[];
  /** `.partial-<id>` folders. */
  partial: string[];
  lock: boolean;
  latest?: string;
}

export async function destinationState(destination: string): Promise<DestinationState> {
  const names = await readdir(destination).catch(() => [] as string[]);
  return {
    published: names.filter((n) => parseSnapshotId(n)).sort(),
    partial: names.filter((n) => n.startsWith(PARTIAL_PREFIX)).sort(),
    lock: names.includes('.lock'),
    latest: await readlink(join(destination, 'latest')).catch(() => undefined),
  };
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Nothing complete-looking that is not: every folder without the `.partial-` prefix has its
 * snapshot.json and every checksum in it (and in its SHA256SUMS lists) matches; `latest`, if
 * present, names one of them.
 */
export async function expectOnlySoundSnapshots(destination: string): Promise<DestinationState> {
  const state = await destinationState(destination);
  for (const id of state.published) {
    const dir = join(destination, id);
    expect(await exists(join(dir, SNAPSHOT_JSON)), `${id} is published without snapshot.json`).to.equal(true);
    const report = await verifySnapshot(new LocalDestination(destination), id, { deep: true });
    expect(report.problems, `${id}: checksums`).to.deep.equal([]);
    expect(report.checkedFiles, `${id}: checked files`).to.be.greaterThan(0);
  }
  if (state.latest !== undefined) expect(state.published, 'latest points at a published snapshot').to.include(state.latest);
  return state;
}

/** `2026-11-22T030000Z-full` for a day at 03:00 UTC. */
export function dailyId(day: string, kind: 'full' | 'incr' = 'full'): string {
  return `${day}T030000Z-${kind}`;
}

/** The days from `first` to `last` inclusive, as YYYY-MM-DD. */
export function daysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/**
 * A complete-looking snapshot as a run would leave it, minus the real data: one small artefact
 * and a snapshot.json recording its sha256, so that list, prune and verify all accept it.
 */
export async function fabricateSnapshot(destination: string, id: string, opts: { job?: string; parent?: string } = {}): Promise<string> {
  const parsed = parseSnapshotId(id);
  if (!parsed) throw new Error(`not a snapshot id: ${id}`);
  const dir = join(destination, id);
  await mkdir(dir, { recursive: true });
  const content = `fabricated artefact of ${id}\n`;
  await writeFile(join(dir, 'repository.tar.zst'), content);
  const record: SnapshotRecord = {
    format: 'backplan-snapshot/1',
    id,
    kind: parsed.kind,
    job: opts.job ?? 'test-job',
    startedAt: parsed.time.toISOString(),
    completedAt: new Date(parsed.time.getTime() + 60_000).toISOString(),
    tool: { name: 'backplan', version: '0.0.0-test' },
    manifest: { file: 'manifest.yaml', sha256: '0'.repeat(64) },
    parent: opts.parent,
    artefacts: [{ path: 'repository.tar.zst', bytes: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex') }],
    steps: [],
  };
  await writeFile(join(dir, SNAPSHOT_JSON), JSON.stringify(record, null, 2) + '\n');
  return dir;
}

/** One fabricated daily snapshot per day, oldest first; returns their ids. */
export async function fabricateDailyHistory(destination: string, first: string, last: string): Promise<string[]> {
  const ids = daysBetween(first, last).map((d) => dailyId(d));
  for (const id of ids) await fabricateSnapshot(destination, id);
  return ids;
}
