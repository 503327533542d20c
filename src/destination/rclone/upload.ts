/**
 * An artefact streamed to the remote as it is produced (rclone's rcat, through the daemon's
 * `operations/uploadfile`), hashed on the way: a multi-GB dump is never staged on the backup
 * host. If the producer fails, the upload is aborted before its body ends, so no truncated object
 * is committed as if whole (and a snapshot without snapshot.json is partial anyway).
 */
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ArtefactSink } from '../types.js';
import type { Rclone } from './remote.js';

export function uploadSink(rclone: Rclone, path: string): ArtefactSink {
  const hash = createHash('sha256');
  let bytes = 0;
  let uploaded = false;
  const body = new PassThrough();
  const abort = new AbortController();
  const upload = rclone.upload(path, body, abort.signal);

  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      if (body.write(chunk)) callback();
      else body.once('drain', () => callback());
    },
    final(callback) {
      body.end();
      upload.then(() => {
        uploaded = true;
        callback();
      }, callback);
    },
    destroy(error, callback) {
      if (!uploaded) abort.abort();
      // With an error, so the upload's body fails rather than ends: an end would commit it.
      body.destroy(error ?? new Error('upload abandoned'));
      callback(error);
    },
  });
  // rclone failing early (a wrong remote, a refused credential) fails the producer at once.
  upload.catch((e: unknown) => stream.destroy(e as Error));

  const result = finished(stream).then(() => ({ sha256: hash.digest('hex'), bytes }));
  result.catch(() => undefined);
  return { stream, done: () => result };
}
