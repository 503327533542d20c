/**
 * Hashing where the files are: a remote folder's SHA256SUMS list made by sha256sum on the
 * remote host, and a published snapshot re-hashed there, so no byte crosses the network.
 */
import { Writable } from 'node:stream';
import { hashingFileSink } from '../../execute/hashing-sink.js';
import type { ArtefactRecord } from '../../record/snapshot-record.js';
import { CHECKERS, sumsCheckSink } from '../shared/sums-check.js';
import type { ArtefactHasher, VerifyReport } from '../types.js';
import { remoteRun } from './transport.js';
import type { RemotePath } from './transport.js';

/**
 * `DIR/FOLDER.SHA256SUMS` for a folder the remote holds (an rsync `repository/`), hashed where
 * the files are, written to `localList` and recorded like a local list.
 */
export async function remoteSha256Sums(ssh: string[], snapshot: RemotePath, folder: string, localList: string, signal?: AbortSignal): Promise<ArtefactRecord> {
  const sink = hashingFileSink(localList);
  const counts = { files: 0, bytes: 0 };
  // Streamed: a repository of millions of files makes a list of hundreds of MB.
  const lines = new LineWriter(sink.stream, (line) => {
    const totals = /^# (\d+) (\d+)$/.exec(line);
    if (!totals) return line + '\n';
    counts.files = Number(totals[1]);
    counts.bytes = Number(totals[2]);
    return '';
  });
  await remoteRun(ssh, snapshot, 'sums', [snapshot.path, folder], { signal, stdout: lines });
  const written = await sink.done();
  return { path: `${folder}.SHA256SUMS`, ...written, covers: { folder, ...counts } };
}

/** Splits text into lines, maps each, writes the result into `target` (ended with it); latin1 keeps names' bytes. */
class LineWriter extends Writable {
  private rest = '';
  constructor(
    private readonly target: Writable,
    private readonly map: (line: string) => string,
  ) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const lines = (this.rest + chunk.toString('latin1')).split('\n');
    this.rest = lines.pop()!;
    this.forward(lines.map(this.map).join(''), done);
  }
  override _final(done: (error?: Error | null) => void): void {
    this.forward(this.rest ? this.map(this.rest) : '', () => this.target.end(done));
  }
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.target.destroy(error ?? undefined);
    done(error);
  }
  private forward(text: string, done: (error?: Error | null) => void): void {
    if (text === '' || this.target.write(text, 'latin1')) done();
    else this.target.once('drain', () => done());
  }
}

/** Hashes a remote snapshot's artefacts where they are (one sha256sum run for them all). */
export function remoteHasher(ssh: string[], snapshot: RemotePath): ArtefactHasher {
  return {
    hash: async (artefacts) => {
      const { stdout } = await remoteRun(ssh, snapshot, 'hash', [snapshot.path, ...artefacts.map((a) => a.path)]);
      const found = new Map<number, { bytes: number; sha256: string }>();
      for (const line of stdout.split('\n')) {
        const m = /^(\d+) (\d+) ([0-9a-f]{64})$/.exec(line);
        if (m) found.set(Number(m[1]), { bytes: Number(m[2]), sha256: m[3]! });
      }
      return artefacts.map((_, i) => found.get(i));
    },
    checkList: (listPath, report) => checkRemoteList(ssh, snapshot, listPath, report),
  };
}

function checkRemoteList(ssh: string[], snapshot: RemotePath, listPath: string, report: VerifyReport): Promise<void> {
  const args = [snapshot.path, listPath, String(CHECKERS.most), String(CHECKERS.splitFrom)];
  return remoteRun(ssh, snapshot, 'check', args, { stdout: sumsCheckSink(listPath, report) }).then(() => undefined);
}
