/**
 * `backplan ls FILE SNAPSHOT [PATH]`: what a snapshot's repository holds, one line per entry as
 * `ls -l` shows it, or one JSON object per line. Read where the snapshot lies (restore/repo-listing.ts):
 * nothing is extracted or copied, and entries are printed as they are read.
 */
import type { CompleteSnapshot, Destination } from '../destination/types.js';
import { BackplanError } from '../errors.js';
import { identityFile } from '../execute/age.js';
import { snapshotChain } from '../record/chain.js';
import { canReadInPlace, walkRepository } from '../restore/repo-listing.js';
import type { RepoEntry } from '../restore/repo-listing.js';
import { binaryName, displayName, nameBytes } from '../util/names.js';
import { assessJob, openJob, restorableIn } from './manage.js';
import type { Output } from './output.js';

export interface LsOptions {
  json?: boolean;
  /** The age identity file for an encrypted snapshot (else BACKPLAN_AGE_IDENTITY_FILE). */
  identity?: string;
  signal?: AbortSignal;
}

export async function lsFile(file: string, id: string, path: string | undefined, o: LsOptions, out: Output): Promise<void> {
  const job = await openJob(file);
  const { destination } = job;
  const assessed = await assessJob(job);
  const chain = snapshotChain(assessed, restorableIn(assessed, id, destination));
  const snapshot = chain.at(-1)!;
  const under = path === undefined ? '' : userPath(path);
  const identity = await identityFile(o.identity);
  let shown = 0;
  await readChain(destination, chain, o.signal, async (reader, entries) =>
    walkRepository(reader, entries, (entry) => {
      if (under !== '' && entry.path !== under && !entry.path.startsWith(`${under}/`)) return;
      shown++;
      out.out((o.json ? jsonLine(entry) : textLine(entry)) + '\n');
    }, o.signal, identity),
  );
  if (shown === 0 && under !== '') {
    throw new BackplanError('SNAPSHOT', `snapshot ${snapshot.id} holds nothing at ${path} in its repository`, {
      hint: `backplan ls ${file} ${snapshot.id} lists everything it holds (paths are relative to the repository root)`,
    });
  }
}

/** In place where the destination can stream its files; else through a fetched copy, released after. */
async function readChain(destination: Destination, chain: CompleteSnapshot[], signal: AbortSignal | undefined, read: (reader: Destination, entries: CompleteSnapshot[]) => Promise<void>): Promise<void> {
  if (canReadInPlace(destination)) return read(destination, chain);
  const local = await destination.fetch(chain, { signal, log: () => undefined });
  try {
    await read(local.local, local.entries);
  } finally {
    await local.release();
  }
}

/** A PATH as typed: relative to the repository root, `./` and a trailing `/` ignored; as a binary string. */
export function userPath(path: string): string {
  let p = path.replace(/\/+$/, '');
  while (p.startsWith('./')) p = p.slice(2);
  return p === '.' ? '' : binaryName(Buffer.from(p, 'utf8'));
}

const TYPE_CHAR: Record<RepoEntry['kind'], string> = { file: '-', hardlink: '-', directory: 'd', symlink: 'l', other: '?' };

/** `-rw-r--r--`, with setuid, setgid and sticky bits as ls shows them. */
export function modeString(kind: RepoEntry['kind'], mode: number): string {
  const rwx = (bits: number, special: boolean, letter: string) => {
    const x = bits & 1 ? (special ? letter : 'x') : special ? letter.toUpperCase() : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${x}`;
  };
  return TYPE_CHAR[kind] + rwx(mode >> 6, (mode & 0o4000) !== 0, 's') + rwx(mode >> 3, (mode & 0o2000) !== 0, 's') + rwx(mode, (mode & 0o1000) !== 0, 't');
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function textLine(e: RepoEntry): string {
  const size = e.size === undefined ? '-' : String(e.size);
  const link = e.linkpath === undefined ? '' : e.kind === 'symlink' ? ` -> ${displayName(e.linkpath)}` : ` link to ${displayName(e.linkpath)}`;
  return `${modeString(e.kind, e.mode)} ${size.padStart(12)} ${isoTime(e.mtime)} ${displayName(e.path)}${link}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The displayed path, and its bytes in base64 when that text does not give them back exactly. */
function jsonLine(e: RepoEntry): string {
  const bytes = nameBytes(e.path);
  const exact = (() => {
    try {
      return utf8.decode(bytes) === displayName(e.path);
    } catch {
      return false;
    }
  })();
  const line: Record<string, unknown> = { path: displayName(e.path) };
  if (!exact) line.pathBytes = bytes.toString('base64');
  Object.assign(line, { type: e.kind, mode: (e.mode & 0o7777).toString(8).padStart(4, '0'), size: e.size ?? null, mtime: isoTime(e.mtime) });
  if (e.linkpath !== undefined) line.target = displayName(e.linkpath);
  return JSON.stringify(line);
}
