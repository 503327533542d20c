/**
 * A file sink that computes the sha256 of what it writes, so an artefact's checksum is known the
 * moment it lands, without reading a multi-GB file back.
 */
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

export interface HashingFileSink {
  stream: Writable;
  /** Resolves once everything is written and fsynced; rejects if the stream failed or was destroyed. */
  done(): Promise<{ sha256: string; bytes: number }>;
}

/**
 * Creates (or truncates) `path` and returns a Writable into it. The mode applies when the file is
 * created and defaults to 0o600: artefacts hold database contents. `parents` makes the folders
 * above it first.
 */
export function hashingFileSink(path: string, opts: { mode?: number; parents?: boolean } = {}): HashingFileSink {
  const hash = createHash('sha256');
  let bytes = 0;
  let file: FileHandle | undefined;

  const stream = new Writable({
    // Chunks pile up while a write is in flight, then go down in one writev: one awaited 64 KiB
    // write per pipe read, each waiting for the last, held the compressor back.
    highWaterMark: SINK_BUFFER,
    construct(callback) {
      const made = opts.parents ? mkdir(dirname(path), { recursive: true, mode: 0o700 }) : Promise.resolve(undefined);
      made.then(() => open(path, 'w', opts.mode ?? 0o600)).then((f) => {
        file = f;
        callback();
      }, callback);
    },
    // The only write method: node's Writable hands a lone chunk to writev too.
    writev(chunks, callback) {
      const buffers = chunks.map((c) => c.chunk as Buffer);
      for (const b of buffers) {
        hash.update(b);
        bytes += b.length;
      }
      writeAllv(file!, buffers).then(() => callback(), callback);
    },
    final(callback) {
      // fsync before reporting success: a checksum recorded in snapshot.json must describe bytes
      // that survive a crash of the machine, not bytes still in the page cache.
      const f = file!;
      f.sync()
        .then(() => {
          file = undefined;
          return f.close();
        })
        .then(() => callback(), callback);
    },
    destroy(error, callback) {
      const f = file;
      file = undefined;
      if (f === undefined) return callback(error);
      const settle = () => callback(error);
      f.close().then(settle, settle);
    },
  });

  const result = finished(stream).then(() => ({ sha256: hash.digest('hex'), bytes }));
  // Reported through done(); if nobody asks (the run already failed), it must not crash the process.
  result.catch(() => undefined);
  return { stream, done: () => result };
}

const SINK_BUFFER = 4 * 1024 * 1024;

/** writev(2) may write less than asked: what is left goes down chunk by chunk. */
async function writeAllv(file: FileHandle, buffers: Buffer[]): Promise<void> {
  let { bytesWritten } = await file.writev(buffers);
  for (const b of buffers) {
    if (bytesWritten >= b.length) bytesWritten -= b.length;
    else {
      await writeAll(file, b.subarray(bytesWritten));
      bytesWritten = 0;
    }
  }
}

/** write(2) may write less than asked; loop until the whole chunk is down. */
async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await file.write(chunk, offset);
    offset += bytesWritten;
  }
}
