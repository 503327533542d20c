/**
 * Reading repository archives back: a listing pass by our own header reader that refuses unsafe
 * entries before anything is written, then extraction by GNU tar, as fast as tar itself. Names
 * stay bytes end to end (record/tar-headers.ts reads them as stored; tar writes them as stored).
 *
 * Should an archive change between the passes, GNU tar's own rules still hold: it skips members
 * with `..`, strips a leading `/`, and creates symlinks that point away only once every other
 * member is out, so nothing is written through them.
 */
import { createWriteStream } from 'node:fs';
import { discard } from '../util/discard.js';
import { finished } from 'node:stream/promises';
import { BackplanError, isBackplanError } from '../errors.js';
import { undecryptable } from '../execute/age.js';
import { run } from '../execute/subprocess.js';
import { tarPathReader, tarSink } from '../record/tar-headers.js';
import type { TarPathEntry } from '../record/tar-headers.js';
import { nameBytes } from '../util/names.js';
import { TAR_EXTRACT } from '../util/tar-args.js';
import { ArchiveGuard } from './archive-guard.js';
import { pipelineOver, sourceName, sourceStages } from './source.js';
import type { ArtefactSource } from './source.js';

export interface ArchiveListing {
  files: number;
  bytes: number;
}

/**
 * Lists the archives and refuses them (UNSAFE_ARCHIVE) if any entry could land outside their
 * root or be written through a symlink. Archives unpacked onto one folder in turn (an
 * incremental chain) share one guard: an entry of a later archive may lean on a symlink from an
 * earlier one.
 */
export async function scanArchives(paths: ArtefactSource[], signal?: AbortSignal, identity?: string): Promise<ArchiveListing> {
  const listing: ArchiveListing = { files: 0, bytes: 0 };
  const guard = new ArchiveGuard(paths.map(sourceName).join(', '));
  for (const path of paths) {
    guard.source = sourceName(path);
    await readArchive(path, (entry) => {
      guard.add(entry);
      if (entry.kind === 'file') {
        listing.files++;
        listing.bytes += entry.size;
      }
    }, signal, identity);
  }
  guard.finish();
  return listing;
}

/**
 * Every entry of an archive, in order, from its headers (the data is skipped, never buffered).
 * A streamed archive (source.ts) is hashed in the same pass: this listing is its checksum check.
 */
export async function readArchive(source: ArtefactSource, onEntry: (entry: TarPathEntry) => void, signal?: AbortSignal, identity?: string): Promise<void> {
  const tar = tarSink(tarPathReader(onEntry));
  const name = sourceName(source);
  try {
    // Decompression runs as a tool (as compression did), never inside node; an encrypted archive
    // (`.age`) has age --decrypt in front of the decompressor (execute/age.ts).
    const stages = sourceStages(source, identity);
    // Read by a tap rather than through a Writable: one reused buffer, no fresh memory per read.
    // An uncompressed archive is read by cat: from its file, or as a streamed one's stdin.
    const readers = stages.length > 0 ? stages : [typeof source === 'string' ? ['cat', '--', source] : ['cat']];
    await pipelineOver(source, readers, { output: 'ignore', tap: { after: readers.length - 1, onChunk: tar.push }, signal });
    tar.end();
  } catch (e) {
    throw unreadable(name, tar.stopped() ?? undecryptable(name, e));
  }
}

/**
 * Writes the names of the members `wanted` accepts (as stored, NUL-separated) to `listFile`, for
 * extractArchive's `select`; returns how many. A hard link whose target is not selected
 * (`linkTargetMissing`) brings that file along: tar could not make the link otherwise.
 */
export async function selectMembers(path: ArtefactSource, wanted: (entry: TarPathEntry) => boolean, linkTargetMissing: (target: string) => boolean, listFile: string, signal?: AbortSignal, identity?: string): Promise<number> {
  const list = createWriteStream(listFile, { mode: 0o600 });
  const linked = new Set<string>();
  let count = 0;
  const add = (name: string) => list.write(Buffer.concat([nameBytes(name), NUL]));
  try {
    await readArchive(path, (entry) => {
      if (!wanted(entry)) return;
      add(entry.path);
      count++;
      if (entry.kind === 'hardlink' && entry.linkpath !== undefined && linkTargetMissing(entry.linkpath)) linked.add(entry.linkpath);
    }, signal, identity);
    for (const target of linked) add(target);
  } finally {
    list.end();
    await finished(list);
  }
  return count;
}

const NUL = Buffer.from([0]);

/**
 * Extracts into `root` (an existing folder) with GNU tar; scanArchives first. `select`: only the
 * members selectMembers listed there. A streamed archive is hashed again on the way: bytes that
 * differ from the listing pass's fail with VERIFY_FAILED.
 */
export async function extractArchive(path: ArtefactSource, root: string, signal?: AbortSignal, identity?: string, select?: string): Promise<void> {
  // Without --no-recursion: a listed folder comes with what is under it (selectMembers lists the topmost names).
  const only = select === undefined ? [] : ['--null', '--verbatim-files-from', `--files-from=${select}`];
  const tar = [...TAR_EXTRACT, `--directory=${root}`, ...only];
  const stages = sourceStages(path, identity);
  try {
    if (typeof path === 'string' && stages.length === 0) await run([...tar, `--file=${path}`], { signal, stdout: 'ignore' });
    else await pipelineOver(path, [...stages, [...tar, '--file=-']], { output: discard(), signal });
  } catch (e) {
    if (isBackplanError(e) && ['DISK_FULL', 'INTERRUPTED', 'VERIFY_FAILED'].includes(e.code)) throw e;
    throw new BackplanError('STEP_FAILED', `extracting ${sourceName(path)} into ${root} failed: ${(e as Error).message}`, {
      hint: 'run backplan verify on this snapshot; if it passes, the target is the problem (space, permissions)',
      cause: e,
    });
  }
}

/** A refusal stays one; anything else while reading means the archive is damaged. */
function unreadable(path: string, e: unknown): unknown {
  if (isBackplanError(e) && e.code !== 'COMMAND_FAILED' && e.code !== 'STEP_FAILED') return e;
  return new BackplanError('SNAPSHOT', `${path} cannot be read as a tar archive: ${(e as Error).message}`, {
    hint: 'run backplan verify on this snapshot; restore another one if it is damaged',
    cause: e,
  });
}
