/**
 * What backplan does at a remote destination, each as one ssh round trip running a fixed script
 * (./scripts.ts). The local twins live beside the callers (record/destination.ts, lock.ts,
 * prune.ts, publish.ts, verify.ts); those dispatch here when the path is `host:/path`.
 */
import { posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { BackplanError } from '../../errors.js';
import { hashingFileSink } from '../../execute/hashing-sink.js';
import { run } from '../../execute/subprocess.js';
import { remoteSpec } from '../../util/destination.js';
import type { RemotePath } from '../../util/destination.js';
import { parseSnapshotId, PARTIAL_PREFIX } from '../layout.js';
import type { ArtefactRecord, SnapshotRecord } from '../snapshot-record.js';
import type { ArtefactHasher, VerifyReport } from '../verify.js';
import type { SnapshotEntry } from '../destination.js';
import { remoteRun, rsyncShell } from './ssh.js';

/** Script exit code meaning "not there" / "already exists". */
const ANSWER = 3;

export async function listRemoteSnapshots(remote: RemotePath): Promise<SnapshotEntry[]> {
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  await remoteRun(remote, 'list', [remote.path], { stdout: collect });
  const entries: SnapshotEntry[] = [];
  for (const { name, files } of parseListing(Buffer.concat(chunks))) {
    const partial = name.startsWith(PARTIAL_PREFIX);
    const id = partial ? name.slice(PARTIAL_PREFIX.length) : name;
    const parsed = parseSnapshotId(id);
    if (!parsed) continue;
    const record = partial ? undefined : parseJson<SnapshotRecord>(files.get('snapshot.json'));
    entries.push({
      id,
      dir: remoteSpec({ host: remote.host, path: posix.join(remote.path, name) }),
      ...parsed,
      complete: record !== undefined,
      pinned: files.has('.pinned'),
      record,
      recordFile: files.has('snapshot.json'),
      verifiedAt: record ? parseJson<{ verifiedAt: string }>(files.get('verification.json'))?.verifiedAt : undefined,
    });
  }
  return entries.sort((a, b) => a.time.getTime() - b.time.getTime() || a.id.localeCompare(b.id));
}

/** `entry NAME` lines, each followed by `file NAME BYTES` headers and that many bytes. */
function parseListing(out: Buffer): { name: string; files: Map<string, string> }[] {
  const entries: { name: string; files: Map<string, string> }[] = [];
  let at = 0;
  while (at < out.length) {
    const end = out.indexOf(0x0a, at);
    if (end < 0) break;
    const line = out.subarray(at, end).toString('utf8');
    at = end + 1;
    const entry = /^entry (.+)$/.exec(line);
    const file = /^file (\S+) +(\d+)$/.exec(line);
    if (entry) entries.push({ name: entry[1]!, files: new Map() });
    else if (file && entries.length > 0) {
      const bytes = Number(file[2]);
      entries.at(-1)!.files.set(file[1]!, out.subarray(at, at + bytes).toString('utf8'));
      at += bytes;
    }
  }
  return entries;
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export async function remoteNames(remote: RemotePath): Promise<string[]> {
  const { stdout } = await remoteRun(remote, 'names', [remote.path]);
  return stdout.split('\n').filter(Boolean);
}

/** Creates the file only if it does not exist: false if it does. */
export async function createRemoteFile(remote: RemotePath, content: string): Promise<boolean> {
  const { exitCode } = await remoteRun(remote, 'create', [remote.path, content], { answers: [ANSWER] });
  return exitCode === 0;
}

export async function readRemoteFile(remote: RemotePath): Promise<string | undefined> {
  const { exitCode, stdout } = await remoteRun(remote, 'read', [remote.path], { answers: [ANSWER] });
  return exitCode === 0 ? stdout : undefined;
}

export async function writeRemoteFile(remote: RemotePath, content: string): Promise<void> {
  await remoteRun(remote, 'write', [remote.path], { stdin: Readable.from([Buffer.from(content)]) });
}

export async function removeRemoteFiles(host: string, paths: string[]): Promise<void> {
  if (paths.length > 0) await remoteRun({ host, path: paths[0]! }, 'remove', paths);
}

export async function makeRemoteDirs(host: string, paths: string[]): Promise<void> {
  await remoteRun({ host, path: paths[0]! }, 'mkdir', paths);
}

/** Deletes snapshot folders (by folder name: `<id>` or `.partial-<id>`) of the destination. */
export async function deleteRemoteSnapshots(remote: RemotePath, names: string[]): Promise<void> {
  for (const name of names) {
    if (!parseSnapshotId(name.startsWith(PARTIAL_PREFIX) ? name.slice(PARTIAL_PREFIX.length) : name)) {
      throw new Error(`refusing to delete ${name}: not a snapshot folder`);
    }
  }
  if (names.length > 0) await remoteRun(remote, 'delete', [remote.path, ...names]);
}

/**
 * `DIR/FOLDER.SHA256SUMS` for a folder the remote holds (an rsync `repository/`), hashed where
 * the files are, written to `localList` and recorded like a local list.
 */
export async function remoteSha256Sums(snapshot: RemotePath, folder: string, localList: string, signal?: AbortSignal): Promise<ArtefactRecord> {
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
  await remoteRun(snapshot, 'sums', [snapshot.path, folder], { signal, stdout: lines });
  const written = await sink.done();
  return { path: `${folder}.SHA256SUMS`, ...written, covers: { folder, ...counts } };
}

/** Splits text into lines, maps each, writes the result into `target` (ended with it). */
class LineWriter extends Writable {
  private rest = '';
  constructor(
    private readonly target: Writable,
    private readonly map: (line: string) => string,
  ) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const lines = (this.rest + chunk.toString('utf8')).split('\n');
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
    if (text === '' || this.target.write(text)) done();
    else this.target.once('drain', () => done());
  }
}

/** Uploads the staged artefacts into the remote .partial- folder, then publishes it. */
export async function publishRemote(stagingDir: string, upload: RemotePath, id: string, signal?: AbortSignal): Promise<void> {
  await run(uploadArgv(stagingDir, upload), { stdout: 'ignore', signal });
  if (signal?.aborted) throw new BackplanError('INTERRUPTED', `interrupted before ${id} was published`);
  await remoteRun({ host: upload.host, path: posix.dirname(upload.path) }, 'publish', [posix.dirname(upload.path), id], { signal });
}

/** rsync of the staging folder into the remote .partial- folder; merges with a repository/ already there. */
export function uploadArgv(stagingDir: string, upload: RemotePath): string[] {
  return ['rsync', '--recursive', '--links', '--perms', '--times', '--protect-args', `--rsh=${rsyncShell()}`, '--', `${stagingDir}/`, `${remoteSpec(upload)}/`];
}

/** Hashes a remote snapshot's artefacts where they are (one sha256sum run for them all). */
export function remoteHasher(snapshot: RemotePath): ArtefactHasher {
  return {
    hash: async (artefacts) => {
      const { stdout } = await remoteRun(snapshot, 'hash', [snapshot.path, ...artefacts.map((a) => a.path)]);
      const found = new Map<number, { bytes: number; sha256: string }>();
      for (const line of stdout.split('\n')) {
        const m = /^(\d+) (\d+) ([0-9a-f]{64})$/.exec(line);
        if (m) found.set(Number(m[1]), { bytes: Number(m[2]), sha256: m[3]! });
      }
      return artefacts.map((_, i) => found.get(i));
    },
    checkList: (listPath, report) => checkRemoteList(snapshot, listPath, report),
  };
}

async function checkRemoteList(snapshot: RemotePath, listPath: string, report: VerifyReport): Promise<void> {
  const { stdout } = await remoteRun(snapshot, 'check', [snapshot.path, listPath]);
  for (const line of stdout.split('\n')) {
    const m = /^\\?(.*): (OK|FAILED.*)$/.exec(line);
    if (!m) continue;
    report.checkedFiles++;
    if (m[2] === 'OK') continue;
    report.problems.push({ path: m[1]!, problem: m[2] === 'FAILED' ? `sha256 does not match ${listPath}` : 'missing' });
  }
}
