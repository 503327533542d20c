/**
 * Reading repository archives back: a listing pass that refuses unsafe entries before anything
 * is written, and an extraction that applies the same checks again on the way (the archive could
 * change between the passes) on top of node-tar's own protections (strict, no absolute or `..`
 * paths, no extraction through symlinks, unlink before write).
 */
import { createReadStream } from 'node:fs';
import { opendir, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { Parser, Unpack } from 'tar';
import type { ReadEntry } from 'tar';
import { BackplanError, isBackplanError } from '../errors.js';
import { undecryptable, unpackStages } from '../execute/age.js';
import { pipeline } from '../execute/subprocess.js';
import { ArchiveGuard } from './archive-guard.js';
import type { ArchiveEntry, EntryKind } from './archive-guard.js';

export interface ArchiveListing {
  files: number;
  bytes: number;
}

/**
 * Lists the archives and refuses them (UNSAFE_ARCHIVE) if any entry could land outside their
 * root. Archives unpacked onto one folder in turn (an incremental chain) share one guard: a
 * link in a later archive may lean on a symlink from an earlier one.
 */
export async function scanArchives(paths: string[], signal?: AbortSignal, identity?: string): Promise<ArchiveListing> {
  const listing: ArchiveListing = { files: 0, bytes: 0 };
  const guard = new ArchiveGuard(paths.join(', '));
  for (const path of paths) {
    guard.source = path;
    const parser = guardedParser(guard, (options) => new Parser(options), (entry) => {
      if (entryKind(entry) === 'file') {
        listing.files++;
        listing.bytes += entry.size;
      }
      entry.resume();
    });
    await feedArchive(path, parser, signal, identity);
  }
  guard.finish();
  return listing;
}

/** Extracts into `root` (an existing folder); call scanArchives first. */
export async function extractArchive(path: string, root: string, signal?: AbortSignal, identity?: string): Promise<void> {
  const guard = new ArchiveGuard(path);
  const unpack = guardedParser(guard, (options) => new Unpack({ ...options, cwd: root, unlink: true }));
  await feedArchive(path, unpack, signal, identity);
  guard.finish();
}

type ParserOptions = NonNullable<ConstructorParameters<typeof Parser>[0]>;

/**
 * A node-tar parser whose filter runs every entry past the guard. A refusal cannot be thrown
 * from inside node-tar's write path: it aborts the parser, and feedArchive reports it.
 */
function guardedParser<P extends Parser>(guard: ArchiveGuard, make: (o: ParserOptions) => P, onReadEntry?: (entry: ReadEntry) => void): P {
  const parser: P = make({
    strict: true,
    onReadEntry,
    // Reading parsers pass only ReadEntry; the Stats half of the type is for archive creation.
    filter: (_path, entry) => {
      try {
        guard.add(archiveEntry(entry as ReadEntry));
        return true;
      } catch (e) {
        refusals.set(parser, e);
        parser.abort(new Error('entry refused'));
        return false;
      }
    },
  });
  return parser;
}

/** Why a parser was aborted by the guard, rather than by a damaged archive. */
const refusals = new WeakMap<Parser, unknown>();

function archiveEntry(entry: ReadEntry): ArchiveEntry {
  return { path: entry.path, kind: entryKind(entry), linkpath: entry.linkpath, type: entry.type };
}

function entryKind(entry: ReadEntry): EntryKind {
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
      return 'directory';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'hardlink';
    default:
      return 'other';
  }
}

/**
 * Streams the archive's tar bytes (decompressed by a tool) into a parser until it has consumed
 * them. The first failure wins: a refused entry stops the decompressor, and a failed
 * decompressor (or read) aborts the parser, so both sides always settle.
 */
async function feedArchive(path: string, parser: Parser, signal?: AbortSignal, identity?: string): Promise<void> {
  const stop = new AbortController();
  let first: unknown;
  const fail = (e: unknown) => {
    first ??= e;
    stop.abort();
  };
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const consumed = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', (e: Error) => reject(refusals.get(parser) ?? damaged(path, e)));
  });
  const fed = tarBytesOf(path, stop.signal, parser, identity).catch((e: unknown) => {
    fail(e);
    parser.abort(new Error('the archive could not be read to its end'));
  });
  try {
    await Promise.all([fed, consumed.catch(fail)]);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (first !== undefined) throw first;
}

/** Pipes the archive's tar bytes into `parser`; settles when they are all written. */
async function tarBytesOf(path: string, signal: AbortSignal, parser: Parser, identity?: string): Promise<void> {
  // Decompression runs as a tool (as compression did), never inside node; an encrypted archive
  // (`.age`) has age --decrypt in front of the decompressor (execute/age.ts).
  const stages = unpackStages(path, identity);
  if (stages.length > 0) {
    const tarBytes = new PassThrough();
    tarBytes.pipe(parser);
    await pipeline(stages, { output: tarBytes, signal }).catch((e: unknown) => {
      throw undecryptable(path, e);
    });
    return;
  }
  const file = createReadStream(path, { signal });
  file.pipe(parser);
  await new Promise<void>((resolve, reject) => {
    file.on('end', resolve);
    file.on('error', (e) => reject(damaged(path, e)));
  });
}

/** node-tar's failure as ours: a full disk, an entry node-tar itself refused, or a damaged archive. */
function damaged(path: string, e: Error): BackplanError {
  if (isBackplanError(e)) return e;
  const err = e as Error & { code?: string; tarCode?: string; syscall?: string };
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') {
    return new BackplanError('DISK_FULL', `extracting ${path} failed: no space left on device`, { hint: 'free space at the restore target', cause: e });
  }
  if (err.syscall !== undefined) return new BackplanError('STEP_FAILED', `extracting ${path} failed: ${err.message}`, { cause: e });
  if (err.tarCode === 'TAR_ENTRY_ERROR') {
    return new BackplanError('UNSAFE_ARCHIVE', `${path}: ${err.message}; refusing to restore`, { hint: 'the archive changed since it was checked: restore another snapshot', cause: e });
  }
  return new BackplanError('SNAPSHOT', `${path} cannot be read as a tar archive: ${err.message}`, {
    hint: 'run backplan verify on this snapshot; restore another one if it is damaged',
    cause: e,
  });
}

/** Every symlink under a copied folder (an rsync snapshot) must stay inside it, as in an archive. */
export async function checkFolderLinks(root: string): Promise<void> {
  const guard = new ArchiveGuard(root);
  for await (const link of walkSymlinks(root)) {
    guard.add({ path: relative(root, link), kind: 'symlink', linkpath: await readlink(link) });
  }
  guard.finish();
}

async function* walkSymlinks(dir: string): AsyncGenerator<string> {
  for await (const entry of await opendir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) yield path;
    else if (entry.isDirectory()) yield* walkSymlinks(path);
  }
}
