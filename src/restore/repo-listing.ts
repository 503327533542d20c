/**
 * What a snapshot's repository holds, entry by entry, read where the snapshot lies (`ls`, and
 * the matching pass of `restore --include`): a tar snapshot's archive headers streamed (no data
 * kept, nothing extracted), an rsync snapshot's repository/ folder listed, an incremental
 * chain merged. Paths are relative to the repository root, binary strings (util/names.ts).
 */
import { PassThrough } from 'node:stream';
import { posix } from 'node:path';
import { BackplanError, isBackplanError } from '../errors.js';
import { undecryptable, unpackStages } from '../execute/age.js';
import { readRest } from '../execute/stdio.js';
import { pipeline } from '../execute/subprocess.js';
import type { CompleteSnapshot, Destination, FolderEntry } from '../destination/types.js';
import { incrementalExtra } from '../incremental/record.js';
import { tarReader, tarSink } from '../record/tar-headers.js';
import type { TarEntry } from '../record/tar-headers.js';

export interface RepoEntry {
  /** Relative to the repository root, without `./`; a binary string. */
  path: string;
  kind: TarEntry['kind'];
  /** Unknown for packs.idx of an incremental chain (rebuilt from its artefacts on restore). */
  size?: number;
  mode: number;
  mtime: number;
  /** A symlink's target, or (a hard link) the path of the file it links to. */
  linkpath?: string;
}

/** Where each entry comes from: for an archive, the member's name as stored (what tar extracts by). */
export interface EntrySource {
  snapshot: CompleteSnapshot;
  /** The archive's path in the destination, or undefined for a folder or a pack. */
  archive?: string;
  member?: string;
}

export type OnRepoEntry = (entry: RepoEntry, source: EntrySource) => void;

/** The destination's readers, or undefined when it has none (that kind is read through fetch). */
export function canReadInPlace(destination: Destination): boolean {
  return destination.streamFile !== undefined && destination.listFolder !== undefined;
}

/** Every entry of the chain's repository (the full first in `chain`, the snapshot listed last). */
export async function walkRepository(reader: Destination, chain: CompleteSnapshot[], onEntry: OnRepoEntry, signal?: AbortSignal, identity?: string): Promise<void> {
  const base = chain[0]!;
  if (incrementalExtra(base.record)) return walkChain(reader, chain, onEntry, signal, identity);
  for (const a of base.record.artefacts) {
    if (/^repository\.tar(\.zst|\.gz)?(\.age)?$/.test(a.path)) return walkArchive(reader, base, a.path, (e, s) => onEntry(e, s), signal, identity);
    if (a.covers?.folder === 'repository') {
      return reader.listFolder!(`${base.id}/repository`, (e) => onEntry(fromFolder(e), { snapshot: base }), signal);
    }
  }
  throw new BackplanError('SNAPSHOT', `snapshot ${base.id} holds no repository`, { hint: 'backplan list shows what each snapshot holds' });
}

/** Deltas newest first, remembering their paths (a delta is small), then the full: the newest copy of each path wins. */
async function walkChain(reader: Destination, chain: CompleteSnapshot[], onEntry: OnRepoEntry, signal?: AbortSignal, identity?: string): Promise<void> {
  const seen = new Set<string>();
  for (const snapshot of [...chain].reverse()) {
    const extra = incrementalExtra(snapshot.record)!;
    const full = snapshot === chain[0];
    await walkArchive(reader, snapshot, extra.archive, (entry, source) => {
      if (seen.has(entry.path)) return;
      if (!full) seen.add(entry.path);
      onEntry(entry, source);
    }, signal, identity);
  }
  packEntries(chain, seen, onEntry);
}

/** The packs and packs.idx of a disk-objectstore container, from the records: restore writes them from pieces. */
function packEntries(chain: CompleteSnapshot[], seen: Set<string>, onEntry: OnRepoEntry): void {
  const newest = chain.at(-1)!;
  const container = incrementalExtra(newest.record)?.container;
  if (!container) return;
  const at = (name: string) => posix.join(container.path, name);
  const written = new Map<string, CompleteSnapshot>();
  let index: CompleteSnapshot | undefined;
  for (const s of chain) {
    const c = incrementalExtra(s.record)?.container;
    for (const piece of c?.pieces ?? []) written.set(piece.pack, s);
    if (c?.index) index = s;
  }
  const time = (s: CompleteSnapshot) => Math.floor(s.time.getTime() / 1000);
  if (!seen.has(at('packs'))) onEntry({ path: at('packs'), kind: 'directory', mode: 0o755, mtime: time(newest) }, { snapshot: newest });
  for (const [pack, state] of Object.entries(container.packs).sort(([a], [b]) => Number(a) - Number(b))) {
    const s = written.get(pack) ?? newest;
    onEntry({ path: at(`packs/${pack}`), kind: 'file', size: state.length, mode: 0o644, mtime: time(s) }, { snapshot: s });
  }
  if (index) onEntry({ path: at('packs.idx'), kind: 'file', mode: 0o644, mtime: time(index) }, { snapshot: index });
}

/** The archive's entries from its headers, streamed from where it lies; the root folder itself left out. */
async function walkArchive(reader: Destination, snapshot: CompleteSnapshot, artefact: string, onEntry: OnRepoEntry, signal?: AbortSignal, identity?: string): Promise<void> {
  const archive = `${snapshot.id}/${artefact}`;
  const tar = tarSink(tarReader((e) => {
    const path = repoPath(e.path);
    if (path === '') return;
    const entry: RepoEntry = { path, kind: e.kind, size: e.size, mode: e.mode, mtime: e.mtime };
    if (e.linkpath !== undefined) entry.linkpath = e.kind === 'hardlink' ? repoPath(e.linkpath) : e.linkpath;
    onEntry(entry, { snapshot, archive, member: e.path });
  }));
  const stages = unpackStages(artefact, identity, { fromStdin: true });
  try {
    if (stages.length > 0) {
      const bytes = new PassThrough();
      // Should the reading side stop first (a refusal, a damaged archive), the source stops too.
      const read = pipeline(stages, { stdin: bytes, output: tar.sink, signal }).then(
        () => readRest(bytes),
        (e: unknown) => {
          bytes.destroy();
          throw e;
        },
      );
      await Promise.all([reader.streamFile!(archive, bytes, signal), read]);
    } else await reader.streamFile!(archive, tar.sink, signal);
    tar.end();
  } catch (e) {
    const cause = tar.stopped() ?? undecryptable(reader.location(archive), e);
    if (isBackplanError(cause) && cause.code !== 'COMMAND_FAILED' && cause.code !== 'STEP_FAILED') throw cause;
    throw new BackplanError('SNAPSHOT', `${reader.location(archive)} cannot be read as a tar archive: ${(cause as Error).message}`, {
      hint: 'run backplan verify on this snapshot; restore another one if it is damaged',
      cause,
    });
  }
}

/** A member's name relative to the repository root: `./a/b/` → `a/b`; the root is ''. */
export function repoPath(member: string): string {
  let p = member;
  while (p.startsWith('./')) p = p.slice(2);
  if (p === '.') return '';
  return p.replace(/\/+$/, '');
}

function fromFolder(e: FolderEntry): RepoEntry {
  return { path: e.path, kind: e.kind, size: e.size, mode: e.mode, mtime: e.mtime, ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}) };
}
