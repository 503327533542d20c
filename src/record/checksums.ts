import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, opendir, open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtefactRecord } from './snapshot-record.js';

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(createReadStream(path), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  });
  return { sha256: hash.digest('hex'), bytes };
}

/** Every regular file under `root`, depth first, without holding the whole tree in memory. */
export async function* walkFiles(root: string): AsyncGenerator<string> {
  const dir = await opendir(root);
  for await (const entry of dir) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) yield* walkFiles(path);
    else if (entry.isFile()) yield path;
  }
}

const HASH_CONCURRENCY = 8;

/**
 * Writes `<folder>.SHA256SUMS` beside a folder artefact in `sha256sum -c` format (paths relative
 * to the snapshot folder), fsyncs it, and returns its record. Streams: one line per file.
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
      if (lines.length) await out.write(lines.join(''));
    };
    for await (const path of walkFiles(join(snapshotDir, folder))) {
      batch.push(
        sha256File(path).then((r) => {
          files++;
          bytes += r.bytes;
          return sumsLine(r.sha256, relative(snapshotDir, path));
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

/** sha256sum's line format, including its escape for names holding `\` or a newline. */
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
