/**
 * The tar part of an incremental snapshot: the whole repository (a full) or the paths the change
 * query found (a delta), streamed through GNU tar and zstd into the artefact, hashed as it lands.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { ArtefactWriter } from '../execute/write-artefact.js';
import type { ArtefactRecord } from '../record/snapshot-record.js';
import { tarCounter } from '../record/tar-count.js';
import { TAR_CREATE, tarExcludes } from '../util/tar-args.js';

export const ZSTD = ['zstd', '-3', '-T0', '-q', '-c'];
/** GNU tar exits 1 when a file changed while read: harmless (files newer than the dump are). */
const TAR_CHANGED_FILES = 1;

export interface ArchiveRequest {
  source: string;
  /** Writes an artefact of the snapshot (execute/write-artefact.ts). */
  write: ArtefactWriter;
  artefact: string;
  exclude: string[];
  signal: AbortSignal;
  log: (line: string) => void;
  /** `age --encrypt …` after zstd (execute/age.ts), when the snapshot is encrypted. */
  encrypt?: string[];
}

export interface ArchiveResult {
  record: ArtefactRecord;
  /** Regular files archived and their bytes, counted from tar's stream. */
  files: number;
  bytes: number;
}

/** The whole repository but `skip` (paths relative to it, globs allowed: copied separately). */
export function archiveAll(req: ArchiveRequest, skip: string[]): Promise<ArchiveResult> {
  // --anchored for our paths only: the user's excludes keep tar's usual unanchored matching.
  const skipArgs = skip.length ? ['--anchored', ...skip.map((p) => `--exclude=./${p}`), '--no-anchored'] : [];
  return archive(req, [...tarExcludes(req.exclude), ...skipArgs, '.']);
}

/**
 * Exactly the listed paths (folders recursively), read from stdin as NUL-separated names while
 * tar runs, then the folders above them without their contents, so that a folder a delta adds
 * to gets its time back on restore. --verbatim-files-from: a name is never an option;
 * --ignore-failed-read: a path that vanished since it was listed (a loose object packed
 * meanwhile) is a warning, not a failure.
 */
export async function archiveList(req: ArchiveRequest, paths: AsyncIterable<string[]>): Promise<ArchiveResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'backplan-ancestors-'));
  const ancestors = join(scratch, 'folders');
  try {
    const names = Readable.from(namesThenAncestors(paths, ancestors));
    const lists = ['--null', '--verbatim-files-from', '--files-from=-', '--no-recursion', `--files-from=${ancestors}`];
    return await archive(req, ['--ignore-failed-read', ...tarExcludes(req.exclude), ...lists], names);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * NUL-separated names for tar's stdin. Once they are all out, the folders above them go to
 * `ancestorsFile`: tar opens that list only after stdin ends (--files-from is positional).
 */
async function* namesThenAncestors(paths: AsyncIterable<string[]>, ancestorsFile: string): AsyncGenerator<Buffer> {
  const folders = new Set<string>(['.']);
  for await (const batch of paths) {
    if (batch.length === 0) continue;
    for (const path of batch) for (let d = dirname(path); d !== '.' && !folders.has(d); d = dirname(d)) folders.add(d);
    yield Buffer.from(batch.map((p) => `${p}\0`).join(''));
  }
  await writeFile(ancestorsFile, [...folders].map((f) => `${f}\0`).join(''));
}

async function archive(req: ArchiveRequest, args: string[], stdin?: Readable): Promise<ArchiveResult> {
  const tar = [...TAR_CREATE, `--directory=${req.source}`, ...args];
  const counter = tarCounter();
  // A failing name source (the database) is the cause; tar merely lost its input.
  let sourceError: unknown;
  stdin?.on('error', (e) => (sourceError ??= e));
  let written: { sha256: string; bytes: number };
  try {
    written = await req.write(req.artefact, [tar, ZSTD, ...(req.encrypt ? [req.encrypt] : [])], {
      signal: req.signal,
      stdin,
      tap: { after: 0, onChunk: (chunk) => counter.push(chunk) },
      onStderrLine: (line) => req.log(line),
      okExitCodes: [[0, TAR_CHANGED_FILES]],
    });
  } catch (e) {
    throw sourceError ?? e;
  }
  return { record: { path: req.artefact, ...written }, ...counter.result() };
}

