/**
 * Where a restore reads one large artefact: a local path (a local destination, read in place),
 * or its bytes streamed from a remote destination (ssh cat, a GET from the rclone daemon) and
 * fed as stdin to the same stages, so that nothing large is copied here first. A streamed
 * artefact is hashed as it passes and compared with snapshot.json: bytes that differ fail the
 * pass with VERIFY_FAILED once its stages are done (before anything is written for the scan
 * pass; loudly, mid-restore, for a later pass should the remote change in between).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Writable } from 'node:stream';
import type { CompleteSnapshot, Destination, VerifyProblem } from '../destination/types.js';
import { BackplanError } from '../errors.js';
import { unpackStages } from '../execute/age.js';
import type { CommandResult } from '../execute/result.js';
import { readRest } from '../execute/stdio.js';
import { pipeline } from '../execute/subprocess.js';
import type { PipelineOptions } from '../execute/subprocess.js';
import type { ArtefactRecord } from '../record/snapshot-record.js';
import { isStreamedArtefact, REPOSITORY_ARCHIVE } from '../record/streamed.js';
import { verifyAgainst } from '../record/verify.js';

export interface StreamedArtefact {
  /** Its path in its snapshot: the suffixes say how to unpack it. */
  name: string;
  /** Where it lies, for messages. */
  location: string;
  /** What snapshot.json records of it. */
  sha256: string;
  bytes: number;
  /** Writes its bytes into `output`, ending it (Destination.streamFile). */
  stream(output: Writable, signal?: AbortSignal): Promise<void>;
}

/** A local file's path, or an artefact streamed from where the snapshot lies. */
export type ArtefactSource = string | StreamedArtefact;

/**
 * Artefact `path` of `snapshot`: with `remote` (the destination a fetch left the large artefacts
 * on, record/streamed.ts), streamed from there; else the file in the snapshot's folder.
 */
export function artefactSource(snapshot: CompleteSnapshot, path: string, remote?: Destination): ArtefactSource {
  const record = remote ? snapshot.record.artefacts.find((a) => a.path === path) : undefined;
  if (!remote || !record || !isStreamedArtefact(record)) return join(snapshot.dir, path);
  return streamedFrom(remote, `${snapshot.id}/${path}`, record);
}

function streamedFrom(remote: Destination, at: string, record: ArtefactRecord): StreamedArtefact {
  if (!remote.streamFile) throw new Error(`${remote.spec} cannot stream ${at}`);
  const streamFile = remote.streamFile.bind(remote);
  return { name: record.path, location: remote.location(at), sha256: record.sha256, bytes: record.bytes, stream: (output, signal) => streamFile(at, output, signal) };
}

export function sourceName(source: ArtefactSource): string {
  return typeof source === 'string' ? source : source.location;
}

/** unpackStages for the source: the first stage reads the file, or stdin when streamed. */
export function sourceStages(source: ArtefactSource, identity: string | undefined): string[][] {
  return typeof source === 'string' ? unpackStages(source, identity) : unpackStages(source.name, identity, { fromStdin: true });
}

/**
 * Runs `stages` with the streamed artefact as stdin, then checks its sha256 and size. Should a
 * stage stop reading early, the rest is still read and hashed; a failure on either side stops
 * the other, the first one's error reported.
 */
export async function pipelineFrom(artefact: StreamedArtefact, stages: string[][], opts: Omit<PipelineOptions, 'stdin'>): Promise<CommandResult[]> {
  const hash = createHash('sha256');
  let bytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const failed = new Map<'stream' | 'stages', unknown>();
  const fail = (side: 'stream' | 'stages') => (error: unknown) => {
    failed.set(side, error);
    stop.abort();
    hashing.destroy();
  };
  try {
    const [, results] = await Promise.all([
      artefact.stream(hashing, stop.signal).catch(fail('stream')),
      pipeline(stages, { ...opts, stdin: hashing, signal: stop.signal }).then((r) => (readRest(hashing), r), fail('stages')),
    ]);
    // Interrupted, the stages' INTERRUPTED (exit 130) rather than how the stream broke off.
    const side = opts.signal?.aborted && failed.has('stages') ? 'stages' : [...failed.keys()][0];
    if (side) throw failed.get(side);
    checkStreamed(artefact, hash.digest('hex'), bytes);
    return results!;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function checkStreamed(artefact: StreamedArtefact, sha256: string, bytes: number): void {
  if (sha256 === artefact.sha256 && bytes === artefact.bytes) return;
  throw new BackplanError('VERIFY_FAILED', `${artefact.location} streamed ${bytes} bytes with sha256 ${sha256}, but snapshot.json records ${artefact.bytes} bytes with sha256 ${artefact.sha256}: it is damaged or was changed; refusing to restore it`, {
    hint: 'backplan verify shows every problem; restore an older snapshot',
  });
}

/** Runs `stages` (sourceStages first) over the source: a local file is read by the first stage itself, a streamed one comes as stdin. */
export function pipelineOver(source: ArtefactSource, stages: string[][], opts: Omit<PipelineOptions, 'stdin'>): Promise<CommandResult[]> {
  return typeof source === 'string' ? pipeline(stages, opts) : pipelineFrom(source, stages, opts);
}

/**
 * The streamed artefacts no listing pass reads before the restore writes (the dump, pack
 * pieces), checked where they lie first: hashed there where that downloads nothing (ssh:
 * sha256sum on the host), else by size (object storage, where hashing is one more download).
 * Each is hashed again as it streams.
 */
export async function checkInPlace(remote: Destination, snapshot: CompleteSnapshot): Promise<VerifyProblem[]> {
  // Repository archives are left to restore's listing pass, which hashes them as they stream.
  const skip = (a: ArtefactRecord) => !isStreamedArtefact(a) || REPOSITORY_ARCHIVE.test(a.path);
  if (snapshot.record.artefacts.every(skip)) return [];
  // Against the fetched snapshot.json, the record the restore goes by.
  return (await verifyAgainst(remote, snapshot.id, snapshot.record, { deep: false, fast: remote.rehashDownloads, skip })).problems;
}
