import { join } from 'node:path';
import { encryptStage, sealedName } from '../execute/age.js';
import { pipeIntoArtefact } from '../execute/write-artefact.js';
import type { ArtefactWriter } from '../execute/write-artefact.js';
import type { PlannedStep } from '../plan/types.js';
import type { SnapshotEncryption } from '../record/snapshot-record.js';
import type { RepositoryLayout } from '../resolve/types.js';
import { archiveAll, archiveList } from '../incremental/archive.js';
import type { ArchiveRequest, ArchiveResult } from '../incremental/archive.js';
import { existingPaths } from '../incremental/candidates.js';
import type { Candidate } from '../incremental/candidates.js';
import { changedNodes, openSnapshotSession } from '../incremental/changes.js';
import type { ChangeQuery, SnapshotSession } from '../incremental/changes.js';
import { copyContainer } from '../incremental/container.js';
import { nodeLayout } from '../incremental/layout.js';
import type { NodeLayout } from '../incremental/layout.js';
import { INCREMENTAL_STRATEGY, parentStateOf, readSnapshotRecord } from '../incremental/record.js';
import type { IncrementalExtra, ParentState, WindowRecord } from '../incremental/record.js';
import type { IncrementalEstimate } from '../incremental/estimate.js';
import { formatBytes } from '../util/bytes.js';
import type { Destination } from '../destination/types.js';
import type { PlanInput } from './plan-input.js';
import type { RunContext, StepRun } from './run-context.js';

export interface RepoIncrementalOptions {
  source: string;
  layout: RepositoryLayout;
  exclude: string[];
  /** Copy everything (first run, or the last full is older than fullEvery). */
  full: boolean;
  /** The snapshot whose watermark bounds the change query. */
  parent?: string;
  marginMs: number;
  periodicityMs?: number;
  artefact: string;
  /** Public keys every artefact is encrypted to, after zstd. */
  encryption?: SnapshotEncryption;
}

export function planRepoIncremental(input: PlanInput): PlannedStep<RepoIncrementalOptions> {
  const { incremental, exclude } = input.settings.repository;
  const { path: source, layout } = input.profile.repository;
  const full = input.snapshot.kind === 'full';
  const { encryption } = input.settings;
  const artefact = sealedName(full ? 'repository.tar.zst' : 'repository-delta.tar.zst', encryption);
  const what = full
    ? `copy all of ${source} (full: ${input.snapshot.parent ? 'fullEvery reached' : 'no earlier snapshot'})`
    : `copy the files of nodes changed since ${input.snapshot.parent} (mtime/ctime > watermark − margin)`;
  const estimate = input.incrementalEstimate;
  return {
    id: 'repository',
    kind: 'repo-incremental',
    needs: [],
    always: false,
    summary: !full && estimate && estimate.parent === input.snapshot.parent ? `${what}; ${describeEstimate(estimate)}` : what,
    commands: [`${what} -> ${join(input.snapshot.partialDir, artefact)}${encryption ? ` (zstd, then age to ${encryption.recipients.length} recipient(s))` : ''}`],
    options: {
      source,
      layout,
      exclude,
      full,
      parent: full ? undefined : input.snapshot.parent,
      marginMs: incremental.marginMs,
      periodicityMs: incremental.periodicityMs,
      artefact,
      ...(encryption ? { encryption } : {}),
    },
  };
}

/** `now: 12 changed nodes, 24 files, 4.7 KiB (+ 1.2 MiB of pack data)`, as the database says at planning time. */
function describeEstimate(e: IncrementalEstimate): string {
  const packs = e.packBytes > 0 ? ` (+ ${formatBytes(e.packBytes)} of pack data)` : '';
  return `now: ${e.nodes} changed nodes, ${e.files} files, ${formatBytes(e.bytes)}${packs}`;
}

/**
 * A full copies the whole repository; an incremental asks the database, inside the run's
 * exported snapshot, which nodes changed after the parent's watermark and archives only their
 * files. For a disk-objectstore container both then copy packs.idx and the new pack bytes.
 * Either way the watermark recorded for the next run is the database clock minus the margin.
 */
export const runRepoIncremental: StepRun<RepoIncrementalOptions> = async (step, ctx, signal) => {
  const o = step.options;
  const log = (level: 'info' | 'warn') => (message: string) => ctx.emit({ type: 'step-log', step: step.id, level, message });
  const layout = await nodeLayout(o.layout, o.source);
  const parent = o.full ? undefined : await parentOf(ctx.destination, o.parent!, log('warn'));
  const encrypt = o.encryption && encryptStage(o.encryption);
  const write: ArtefactWriter = (artefact, stages, opts) => pipeIntoArtefact(ctx.destination, ctx.plan.snapshot.id, artefact, stages, { ...opts, appendOnly: true });
  const req: ArchiveRequest = { source: o.source, write, artefact: o.artefact, exclude: o.exclude, signal, log: log('warn'), ...(encrypt ? { encrypt } : {}) };
  const { archive, extra } = await archiveFiles(ctx, o, layout, parent, req, log('info'));
  const artefacts = [archive.record];
  let record = extra;
  // After the files: loose objects first, then packs.idx, then packs (see container.ts).
  if (layout.kind === 'disk-objectstore') {
    const container = await copyContainer({ dir: join(o.source, layout.container), path: layout.container, partialDir: ctx.plan.snapshot.partialDir, write, signal, encryption: o.encryption }, parent?.container);
    artefacts.push(...container.artefacts);
    record = { ...extra, packBytes: container.packBytes, container: container.record };
  }
  ctx.state.artefacts.push(...artefacts);
  ctx.state.repository = {
    strategy: INCREMENTAL_STRATEGY,
    layout: o.layout,
    source: o.source,
    files: archive.files,
    bytes: archive.bytes + (record.packBytes ?? 0),
    extra: record as unknown as Record<string, unknown>,
  };
  return { bytes: artefacts.reduce((n, a) => n + a.bytes, 0) };
};

/**
 * The tar part, inside the run's database snapshot: everything but the packs for a full, the
 * changed nodes' files for a delta. Sets the watermark the next run starts from.
 */
async function archiveFiles(
  ctx: RunContext,
  o: RepoIncrementalOptions,
  layout: NodeLayout,
  parent: ParentState | undefined,
  req: ArchiveRequest,
  info: (message: string) => void,
): Promise<{ archive: ArchiveResult; extra: IncrementalExtra }> {
  const session = await openSnapshotSession(ctx.plan.profile.database, ctx.secrets, ctx.state.exportedSnapshot);
  try {
    // The exporter's clock when there is one: our own transaction began later.
    const clock = ctx.state.databaseClock ?? session.clock;
    ctx.state.watermark = new Date(clock.getTime() - o.marginMs).toISOString();
    if (!parent) {
      const packs = layout.kind === 'disk-objectstore' ? [join(layout.container, 'packs'), join(layout.container, 'packs.idx*')] : [];
      return { archive: await archiveAll(req, packs), extra: { mode: 'full', archive: o.artefact } };
    }
    const changes = await archiveChanges(session, layout, { since: parent.watermark, periodicityMs: o.periodicityMs }, req, info);
    return { archive: changes.archive, extra: { mode: 'delta', archive: o.artefact, since: parent.watermark, nodes: changes.nodes, windows: changes.windows } };
  } finally {
    await session.close();
  }
}

/** The parent's watermark and packs; undefined (copy everything) when it cannot anchor a delta. */
async function parentOf(destination: Destination, id: string, warn: (message: string) => void): Promise<ParentState | undefined> {
  const state = parentStateOf(await readSnapshotRecord(destination, id));
  if (!state) warn(`${id} was not made by the incremental strategy (no watermark): copying the whole repository`);
  return state;
}

/** Changed nodes → their existing paths → tar, streamed end to end, window after window. */
async function archiveChanges(
  session: SnapshotSession,
  layout: NodeLayout,
  query: ChangeQuery,
  req: ArchiveRequest,
  info: (message: string) => void,
): Promise<{ archive: ArchiveResult; nodes: number; windows: WindowRecord[] }> {
  const windows: WindowRecord[] = [];
  const onWindow = (w: WindowRecord) => {
    windows.push(w);
    info(`nodes changed in (${w.from}, ${w.to ?? 'snapshot'}]: ${w.nodes}`);
  };
  const found = existingPaths(req.source, layout, changedNodes(session, layout, query, onWindow), { sizes: false });
  const archive = await archiveList(req, pathsOf(found));
  return { archive, nodes: windows.reduce((n, w) => n + w.nodes, 0), windows };
}

async function* pathsOf(batches: AsyncIterable<Candidate[]>): AsyncGenerator<string[]> {
  for await (const batch of batches) yield batch.map((c) => c.path);
}
