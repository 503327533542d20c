import { createHash } from 'node:crypto';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, run } from '../execute/subprocess.js';
import { lineSink } from '../util/lines.js';
import type { ArtefactRecord } from './snapshot-record.js';

/** How much of a file one read brings in. */
const READ_BYTES = 1024 * 1024;

/**
 * The sha256 and size of a file, or of bytes [start, end) of it. Read into one reused buffer:
 * a stream's fresh chunk per read costs a page fault per 4 KiB touched, which on a VM was most
 * of the time (a 42 MB dump in RAM: 250–330 ms as a stream, 55 ms this way).
 */
export async function sha256File(path: string | Buffer, range: { start: number; end: number } = { start: 0, end: Infinity }): Promise<{ sha256: string; bytes: number }> {
  const file = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafeSlow(READ_BYTES);
    let bytes = 0;
    for (let at = range.start; at < range.end; ) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(READ_BYTES, range.end - at), at);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      at += bytesRead;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    await file.close();
  }
}

/** Every regular file under `root`, its path in bytes (a name need not be UTF-8), depth first, streaming. */
export async function* walkFiles(root: string): AsyncGenerator<Buffer> {
  const base = Buffer.from(root);
  for await (const path of walkFileNames(base)) yield Buffer.concat([base, SLASH, path]);
}

/**
 * Every regular file under `root`, as paths relative to it in bytes (a name need not be UTF-8),
 * depth first; one folder's names at a time in memory.
 */
export async function* walkFileNames(root: Buffer, below: Buffer = Buffer.alloc(0)): AsyncGenerator<Buffer> {
  const dir = below.length ? Buffer.concat([root, SLASH, below]) : root;
  for (const entry of await readdir(dir, { encoding: 'buffer', withFileTypes: true })) {
    const path = below.length ? Buffer.concat([below, SLASH, entry.name]) : entry.name;
    if (entry.isDirectory()) yield* walkFileNames(root, path);
    else if (entry.isFile()) yield path;
  }
}

const SLASH = Buffer.from('/');

/**
 * Writes `<folder>.SHA256SUMS` beside a folder artefact in `sha256sum -c` format (paths relative
 * to the snapshot folder, their bytes as they are), fsynced, and returns its record. sha256sum
 * itself hashes (`find | xargs sha256sum`): on 200k files of 200 B it took 5 s against 60-75 s
 * hashing them in node, where one of the 400k fs calls once never came back and held a run
 * forever. Files and bytes count a hard-linked file once, as tar does.
 */
export async function writeSha256Sums(snapshotDir: string, folder: string, signal?: AbortSignal): Promise<ArtefactRecord> {
  const listPath = `${folder}.SHA256SUMS`;
  // `folder` is ours (repository, database.dir): never read as an option.
  const listed = pipeline([['find', folder, '-type', 'f', '-print0'], ['xargs', '-0', '-r', 'sha256sum', '--']], { cwd: snapshotDir, signal, output: join(snapshotDir, listPath) });
  const [, counted] = await Promise.all([listed, countFiles(snapshotDir, folder, signal)]);
  const own = await sha256File(join(snapshotDir, listPath));
  return { path: listPath, ...own, covers: { folder, ...counted } };
}

/** The regular files under `folder` and their bytes, from find's listing of links, inodes and sizes. */
async function countFiles(cwd: string, folder: string, signal?: AbortSignal): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const linked = new Set<string>();
  const count = lineSink((line) => {
    const [links, inode, size] = line.split(' ');
    if (links === '1' || !linked.has(inode!)) {
      files++;
      bytes += Number(size);
    }
    if (links !== '1') linked.add(inode!);
  });
  await run(['find', folder, '-type', 'f', '-printf', '%n %i %s\\n'], { cwd, signal, stdout: count });
  return { files, bytes };
}

/** A file artefact's record, hashing it from disk (for files not written through a hashing sink). */
export async function fileArtefact(snapshotDir: string, path: string): Promise<ArtefactRecord> {
  return { path, ...(await sha256File(join(snapshotDir, path))) };
}

/**
 * A line of a SHA256SUMS list, sha256sum's escape (for names holding `\` or a newline) undone.
 * Paths are binary strings (util/names.ts): a list is read as latin1, byte for byte.
 */
export function parseSumsLine(line: string): { sha256: string; path: string } | undefined {
  const escaped = line.startsWith('\\');
  const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(escaped ? line.slice(1) : line);
  if (!m) return undefined;
  const path = escaped ? m[2]!.replace(/\\(\\|n|r)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\')) : m[2]!;
  return { sha256: m[1]!, path };
}

export async function isFolder(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() ?? false;
}
