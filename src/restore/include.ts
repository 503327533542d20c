/**
 * `restore --include PATTERN`: only the repository paths a pattern matches come back. A pattern
 * is a glob (minimatch: `*`, `?`, `**`) on the path relative to the repository root (`./`
 * stripped), and a folder it matches brings everything under it. Matching is done in our own
 * listing pass (names as bytes); the tools are then handed the exact names, NUL-separated:
 * GNU tar `--files-from --no-recursion`, rsync `--from0 --files-from` (which lists files,
 * folders and links one by one, as --files-from turns off the recursion -a implies).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { finished } from 'node:stream/promises';
import { minimatch } from 'minimatch';
import type { CompleteSnapshot, Destination } from '../destination/types.js';
import { FIND_FORMAT, findRecords } from '../destination/shared/folder-listing.js';
import { run } from '../execute/subprocess.js';
import { displayName, nameBytes } from '../util/names.js';
import { extractArchive, selectMembers } from './archive.js';
import { repoPath, walkRepository } from './repo-listing.js';
import type { ArtefactSource } from './source.js';

/** Whether a repository path (a binary string, relative to the root) is wanted. */
export type PathFilter = (path: string) => boolean;

/** A path matches when it, or a folder above it, matches one of the patterns. */
export function includeFilter(patterns: string[]): PathFilter {
  const globs = patterns.map((p) => {
    let g = p.replace(/\/+$/, '');
    while (g.startsWith('./')) g = g.slice(2);
    return g;
  });
  const matches = (text: string) => globs.some((g) => minimatch(text, g, { dot: true }));
  return (path) => {
    if (path === '') return false;
    const parts = displayName(path).split('/');
    for (let i = 1; i <= parts.length; i++) if (matches(parts.slice(0, i).join('/'))) return true;
    return false;
  };
}

export interface IncludeCount {
  entries: number;
  files: number;
  bytes: number;
}

/** What the patterns select of the chain's repository, from the same listing `ls` prints. */
export async function countIncluded(reader: Destination, chain: CompleteSnapshot[], wanted: PathFilter, signal?: AbortSignal, identity?: string): Promise<IncludeCount> {
  const count: IncludeCount = { entries: 0, files: 0, bytes: 0 };
  await walkRepository(reader, chain, (entry) => {
    if (!wanted(entry.path)) return;
    count.entries++;
    if (entry.kind === 'file') {
      count.files++;
      count.bytes += entry.size ?? 0;
    }
  }, signal, identity);
  return count;
}

/** A scratch folder for the name lists, removed after `use`. */
export async function withListDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'backplan-include-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Extracts the selected members of one archive into `root`; nothing when none is selected. Only
 * the topmost selected names are listed: GNU tar brings a listed folder with everything under
 * it (all selected too), and a name listed below one would match twice and be reported missing.
 */
export async function extractSelected(archive: ArtefactSource, root: string, wanted: PathFilter, signal?: AbortSignal, identity?: string): Promise<number> {
  const top = (path: string) => path !== '' && wanted(path) && !wanted(posix.dirname(path) === '.' ? '' : posix.dirname(path));
  return withListDir(async (dir) => {
    const list = join(dir, 'members');
    const n = await selectMembers(archive, (e) => top(repoPath(e.path)), (target) => !wanted(repoPath(target)), list, signal, identity);
    if (n > 0) await extractArchive(archive, root, signal, identity, list);
    return n;
  });
}

/** Copies the selected entries of an rsync snapshot's folder into `target`. */
export async function copySelected(source: string, target: string, wanted: PathFilter, signal?: AbortSignal): Promise<number> {
  return withListDir(async (dir) => {
    const list = join(dir, 'names');
    const out = createWriteStream(list, { mode: 0o600 });
    let n = 0;
    await run(['find', source, '-mindepth', '1', '-printf', FIND_FORMAT], {
      signal,
      stdout: findRecords((e) => {
        if (!wanted(e.path)) return;
        n++;
        out.write(Buffer.concat([nameBytes(e.path), Buffer.from([0])]));
      }),
    });
    out.end();
    await finished(out);
    if (n > 0) await run(['rsync', '--archive', '--hard-links', '--sparse', '--from0', `--files-from=${list}`, '--', `${source}/`, `${target}/`], { signal, stdout: 'ignore' });
    return n;
  });
}
