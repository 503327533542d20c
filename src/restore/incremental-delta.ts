/**
 * Restoring what the incremental strategy wrote: a full (repository.tar.zst, whole packs, the
 * packs.idx copy) and then each incremental in order (repository-delta.tar.zst, pack tails
 * written at their recorded offsets, the packs.idx delta script). Used by `restore`; every
 * path an archive or a record names is checked to stay inside the target first.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { discard } from '../util/discard.js';
import { BackplanError } from '../errors.js';
import { AGE_SUFFIX } from '../execute/age.js';
import { INDEX_ARTEFACT } from '../incremental/container.js';
import type { ContainerRecord, IncrementalExtra, PackPiece } from '../incremental/record.js';
import { incrementalExtra } from '../incremental/record.js';
import { sqliteArgv } from '../incremental/sqlite.js';
import type { SnapshotRecord } from '../record/snapshot-record.js';
import { extractArchive, scanArchives } from './archive.js';
import { extractSelected } from './include.js';
import type { PathFilter } from './include.js';
import { pipelineOver, sourceName, sourceStages } from './source.js';
import type { ArtefactSource } from './source.js';

const ARCHIVES = new Set(['repository.tar.zst', 'repository-delta.tar.zst'].flatMap((a) => [a, `${a}${AGE_SUFFIX}`]));

export interface ApplyOptions {
  identity?: string;
  /** restore --include's paths. */
  only?: PathFilter;
  /** Where an artefact is read from (source.ts); by default the file in snapshotDir. */
  open?: (artefact: string) => ArtefactSource;
  /**
   * The caller listed the archive with the rest of its chain (restore's checkRestoreSources,
   * the stricter check: an entry may lean on an earlier archive's symlink); it is not listed again.
   */
  listed?: boolean;
}

/**
 * Applies one snapshot of the incremental strategy onto `targetRepo`: a full lays the base
 * (apply it to an empty folder), an incremental brings the result of its parent up to itself.
 * With `only` (restore --include), the archive's selected members, and a pack or packs.idx
 * only when its own path is selected. `open` says where an artefact is read from (source.ts:
 * streamed from a remote destination); by default the file in `snapshotDir`. The archive is
 * listed first (archive.ts scanArchives) unless `listed` says the caller has.
 */
export async function applyRepositoryDelta(snapshotDir: string, record: SnapshotRecord, targetRepo: string, opts: ApplyOptions = {}): Promise<void> {
  const { identity, only, open, listed } = opts;
  const extra = checkedExtra(record);
  const source = open ?? ((artefact: string) => join(snapshotDir, artefact));
  // Artefacts named `….age` are decrypted in front of zstd (execute/age.ts).
  const unzstd = (artefact: ArtefactSource) => sourceStages(artefact, identity);
  await mkdir(targetRepo, { recursive: true });
  const archive = source(extra.archive);
  // Nor is a streamed archive: restore listed the chain's (hashing them), and extraction re-hashes
  // it; a third download would buy nothing.
  if (!listed && typeof archive === 'string') await scanArchives([archive], undefined, identity);
  if (only) await extractSelected(archive, targetRepo, only, undefined, identity);
  else await extractArchive(archive, targetRepo, undefined, identity);
  if (!extra.container) return;
  const wanted = (name: string) => !only || only(posix.join(extra.container!.path, name));
  const container = join(targetRepo, extra.container.path);
  const pieces = extra.container.pieces.filter((p) => wanted(`packs/${p.pack}`));
  if (pieces.length > 0 || !only) await mkdir(join(container, 'packs'), { recursive: true });
  for (const piece of pieces) await writePiece(source(piece.artefact), join(container, 'packs', piece.pack), piece, unzstd);
  if (wanted('packs.idx')) {
    await mkdir(container, { recursive: true });
    await applyIndex(source, extra.container, container, unzstd);
  }
}

type Unpack = (artefact: ArtefactSource) => string[][];

/** A name the record gives, in clear or encrypted. */
function named(artefact: string, expected: string): boolean {
  return artefact === expected || artefact === `${expected}${AGE_SUFFIX}`;
}

/** The record's incremental part, refusing names that could point outside the snapshot or target. */
function checkedExtra(record: SnapshotRecord): IncrementalExtra {
  const extra = incrementalExtra(record);
  if (!extra) {
    throw new BackplanError('SNAPSHOT', `snapshot ${record.id} was not made by the incremental strategy`, {
      hint: 'restore tar and rsync snapshots by extracting or copying their repository artefact',
    });
  }
  const bad = (what: string) => new BackplanError('UNSAFE_ARCHIVE', `snapshot ${record.id}: snapshot.json names ${what}`, { hint: 'its snapshot.json is damaged or was tampered with' });
  if (!ARCHIVES.has(extra.archive)) throw bad(`an unexpected archive ${JSON.stringify(extra.archive)}`);
  const c = extra.container;
  if (c) {
    if (c.path !== '' && c.path !== 'container') throw bad(`an unexpected container folder ${JSON.stringify(c.path)}`);
    for (const p of c.pieces) if (!/^\d+$/.test(p.pack) || !named(p.artefact, `packs/${p.pack}@${p.offset}.zst`)) throw bad(`an unexpected pack piece ${JSON.stringify(p.artefact)}`);
    if (c.index && !named(c.index.artefact, INDEX_ARTEFACT[c.index.kind])) throw bad(`an unexpected index artefact ${JSON.stringify(c.index.artefact)}`);
  }
  return extra;
}

/** Truncates the pack to the piece's offset, then writes the piece there. */
async function writePiece(artefact: ArtefactSource, packPath: string, piece: PackPiece, unzstd: Unpack): Promise<void> {
  const size = (await stat(packPath).catch(() => undefined))?.size ?? 0;
  if (size < piece.offset) {
    throw new BackplanError('SNAPSHOT', `${packPath} has ${size} bytes but ${sourceName(artefact)} continues it at ${piece.offset}`, {
      hint: 'apply the full snapshot and every incremental before this one, in order',
    });
  }
  await (await open(packPath, 'a', 0o644)).close();
  await truncate(packPath, piece.offset);
  const results = await pipelineOver(artefact, unzstd(artefact), { output: createWriteStream(packPath, { flags: 'r+', start: piece.offset }) });
  const stdoutBytes = results.at(-1)!.stdoutBytes;
  if (stdoutBytes !== piece.length) {
    throw new BackplanError('SNAPSHOT', `${sourceName(artefact)} holds ${stdoutBytes} bytes, its record says ${piece.length}`, { hint: 'verify the snapshot' });
  }
  const file = await open(packPath, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

/** A full's copy replaces packs.idx; an incremental's script is replayed onto it in one transaction. */
async function applyIndex(source: (artefact: string) => ArtefactSource, container: ContainerRecord, target: string, unzstd: Unpack): Promise<void> {
  const index = container.index;
  if (!index) return;
  const idx = join(target, 'packs.idx');
  const artefact = source(index.artefact);
  if (index.kind === 'copy') {
    // Stale WAL files next to a replaced database would be replayed into it.
    await rm(`${idx}-wal`, { force: true });
    await rm(`${idx}-shm`, { force: true });
    await pipelineOver(artefact, unzstd(artefact), { output: idx });
    return;
  }
  await pipelineOver(artefact, [...unzstd(artefact), sqliteArgv([idx])], { output: discard() });
}
