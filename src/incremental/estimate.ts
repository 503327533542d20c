/**
 * What the next incremental would copy, for `backplan plan`: the changed nodes counted in the
 * database, the bytes of their existing files summed by stat (streamed, nothing copied), and
 * the pack bytes that are new since the parent's record.
 */
import { join } from 'node:path';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import type { ResolvedProfile, Secrets } from '../resolve/types.js';
import { existingPaths } from './candidates.js';
import { changedNodes, countChangedNodes, openSnapshotSession } from './changes.js';
import { listPacks, repackedPacks } from './container.js';
import { nodeLayout } from './layout.js';
import type { NodeLayout } from './layout.js';
import { parentStateOf } from './record.js';
import type { ContainerRecord } from './record.js';

export interface IncrementalEstimate {
  /** The snapshot the estimate builds on. */
  parent: string;
  since: string;
  nodes: number;
  /** Existing files of those nodes (1.x: in their folders; 2.x: loose objects) and their bytes. */
  files: number;
  bytes: number;
  /** New pack bytes: new packs, grown tails, repacked packs whole. */
  packBytes: number;
}

/** undefined when the parent cannot anchor an incremental (another strategy made it). */
export async function estimateIncremental(profile: ResolvedProfile, secrets: Secrets, parent: SnapshotRecord): Promise<IncrementalEstimate | undefined> {
  const state = parentStateOf(parent);
  if (!state) return undefined;
  const source = profile.repository.path;
  const layout = await nodeLayout(profile.repository.layout, source);
  const session = await openSnapshotSession(profile.database, secrets);
  const estimate: IncrementalEstimate = { parent: state.id, since: state.watermark, nodes: 0, files: 0, bytes: 0, packBytes: 0 };
  try {
    estimate.nodes = await countChangedNodes(session, state.watermark);
    for await (const batch of existingPaths(source, layout, changedNodes(session, layout, { since: state.watermark }), { sizes: true })) {
      for (const candidate of batch) {
        estimate.files += candidate.files;
        estimate.bytes += candidate.bytes;
      }
    }
  } finally {
    await session.close();
  }
  estimate.packBytes = await newPackBytes(source, layout, state.container);
  return estimate;
}

async function newPackBytes(source: string, layout: NodeLayout, parent: ContainerRecord | undefined): Promise<number> {
  if (layout.kind !== 'disk-objectstore') return 0;
  const container = join(source, layout.container);
  const known = parent?.packs ?? {};
  const repacked = await repackedPacks(container, known);
  let bytes = 0;
  for (const { pack, size } of await listPacks(container)) {
    const length = known[pack] && !repacked.has(pack) ? known[pack].length : 0;
    bytes += Math.max(0, size - length);
  }
  return bytes;
}
