import { createHash } from 'node:crypto';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { binaryName } from '../util/names.js';
import { readFileStream } from '../util/read-file.js';
import type { ArtefactRecord } from './snapshot-record.js';

export async function sha256File(path: string | Buffer): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(readFileStream(path), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  });
  return { sha256: hash.digest('hex'), bytes };
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

const HASH_CONCURRENCY = 8;

/**
 * Writes `<folder>.SHA256SUMS` beside a folder artefact in `sha256sum -c` format (paths relative
 * to the snapshot folder, their bytes as they are), fsyncs it, and returns its record. Streams:
 * one line per file.
 */
export async function writeSha256Sums(snapshotDir: string, folder: string): Promise<ArtefactRecord> {
  const listPath = `${folder}.SHA256SUMS`;
  const out = await open(join(snapshotDir, listPath), 'w', 0o600);
  let files = 0;
  let bytes = 0;
  try {
    let batch: Promise<string>[] = [];
    const flush = async () => {
      const lines = await Promise.all(batch);
      batch = [];
      if (lines.length) await out.write(lines.join(''), null, 'latin1');
    };
    // Every name is listed; files and bytes count a hard-linked file once, as tar does.
    const linked = new Set<number>();
    const snapshot = Buffer.from(snapshotDir);
    for await (const path of walkFileNames(snapshot, Buffer.from(folder))) {
      const file = Buffer.concat([snapshot, SLASH, path]);
      batch.push(
        Promise.all([lstat(file), sha256File(file)]).then(([st, r]) => {
          if (st.nlink === 1 || !linked.has(st.ino)) {
            files++;
            bytes += r.bytes;
          }
          if (st.nlink > 1) linked.add(st.ino);
          return sumsLine(r.sha256, binaryName(path));
        }),
      );
      if (batch.length >= HASH_CONCURRENCY) await flush();
    }
    await flush();
    await out.sync();
  } finally {
    await out.close();
  }
  const own = await sha256File(join(snapshotDir, listPath));
  return { path: listPath, ...own, covers: { folder, files, bytes } };
}

/** A file artefact's record, hashing it from disk (for files not written through a hashing sink). */
export async function fileArtefact(snapshotDir: string, path: string): Promise<ArtefactRecord> {
  return { path, ...(await sha256File(join(snapshotDir, path))) };
}

/**
 * sha256sum's line format, including its escape for names holding `\` or a newline. Paths are
 * binary strings (util/names.ts): a list is written and read as latin1, byte for byte.
 */
export function sumsLine(sha256: string, path: string): string {
  if (!/[\\\n\r]/.test(path)) return `${sha256}  ${path}\n`;
  const escaped = path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `\\${sha256}  ${escaped}\n`;
}

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
