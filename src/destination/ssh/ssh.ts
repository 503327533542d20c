/**
 * A destination on another host, `user@host:/path`, reached over ssh. Each operation is one ssh
 * round trip running a fixed script (./scripts.ts). Artefacts are made in a local staging folder
 * and uploaded by `publish` (an rsync repository goes straight to the remote, hard-linked to the
 * previous snapshot there); the remote `.partial-<id>` is then renamed as a local one would be.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { BackplanError } from '../../errors.js';
import { hashingFileSink } from '../../execute/hashing-sink.js';
import { renderCommand } from '../../execute/render.js';
import { run } from '../../execute/subprocess.js';
import { PARTIAL_PREFIX, SNAPSHOT_JSON } from '../../record/layout.js';
import type { ArtefactRecord, SnapshotRecord } from '../../record/snapshot-record.js';
import { FIND_FORMAT, findRecords } from '../shared/folder-listing.js';
import { isSnapshotFolder, LATEST_LINK, oldestFirst, PIN_FILE, snapshotEntry, VERIFICATION_FILE } from '../shared/listing.js';
import { copyChain, stageAfresh } from '../local/fetch-copy.js';
import { writeFileAtomic } from '../../util/durable.js';
import type { ArtefactHasher, ArtefactSink, CompleteSnapshot, Destination, FileStat, FolderEntry, LocalSnapshots, RsyncTarget, SnapshotEntry, SnapshotPaths, SpaceContext } from '../types.js';
import { remoteHasher, remoteSha256Sums } from './hashing.js';
import { remoteRun, remoteSpec, rsyncShell, sshCommand } from './transport.js';
import type { RemotePath } from './transport.js';

/** Script exit code meaning "not there" / "already exists". */
const ANSWER = 3;

export class SshDestination implements Destination {
  readonly spec: string;
  private readonly staging: string;
  /** The ssh client argv (BACKPLAN_SSH_COMMAND), for every call and for rsync. */
  private readonly ssh: string[];

  constructor(
    private readonly remote: RemotePath,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.spec = remoteSpec(remote);
    this.staging = stagingDir(this.spec, env);
    this.ssh = sshCommand(env);
  }

  location(path: string): string {
    return remoteSpec(this.at(path));
  }

  private at(path: string): RemotePath {
    return { host: this.remote.host, path: posix.join(this.remote.path, path) };
  }

  async list(): Promise<SnapshotEntry[]> {
    const chunks: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    await remoteRun(this.ssh, this.remote, 'list', [this.remote.path], { stdout: collect });
    const entries: SnapshotEntry[] = [];
    for (const { name, files } of parseListing(Buffer.concat(chunks))) {
      const listed = { snapshotJson: files.get(SNAPSHOT_JSON), verificationJson: files.get(VERIFICATION_FILE), pinned: files.has(PIN_FILE) };
      const entry = snapshotEntry(name, this.location(name), listed);
      if (entry) entries.push(entry);
    }
    return oldestFirst(entries);
  }

  async names(): Promise<string[]> {
    const { stdout } = await remoteRun(this.ssh, this.remote, 'names', [this.remote.path]);
    return stdout.split('\n').filter(Boolean);
  }

  async readText(path: string): Promise<string | undefined> {
    const { exitCode, stdout } = await remoteRun(this.ssh, this.remote, 'read', [this.at(path).path], { answers: [ANSWER] });
    return exitCode === 0 ? stdout : undefined;
  }

  async writeText(path: string, text: string): Promise<void> {
    await remoteRun(this.ssh, this.remote, 'write', [this.at(path).path], { stdin: Readable.from([Buffer.from(text)]) });
  }

  async createText(path: string, text: string): Promise<boolean> {
    const { exitCode } = await remoteRun(this.ssh, this.remote, 'create', [this.at(path).path, text], { answers: [ANSWER] });
    return exitCode === 0;
  }

  async removeFile(path: string): Promise<void> {
    await remoteRun(this.ssh, this.remote, 'remove', [this.at(path).path]);
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const { exitCode, stdout } = await remoteRun(this.ssh, this.remote, 'stat', [this.at(path).path], { answers: [ANSWER] });
    if (exitCode !== 0) return undefined;
    const m = /^(\d+) (\d+) (\d+)$/.exec(stdout.trim());
    if (!m) throw new BackplanError('COMMAND_FAILED', `stat of ${this.location(path)} answered ${JSON.stringify(stdout.trim())}`, { hint: 'the remote needs GNU coreutils (stat -c)' });
    const [bytes, mtime, now] = m.slice(1).map(Number) as [number, number, number];
    return { bytes, mtimeMs: mtime * 1000, ageMs: (now - mtime) * 1000 };
  }

  readonly partialGraceMs = 0;
  readonly rehashDownloads = false;

  artefactSink(id: string, path: string): ArtefactSink {
    return hashingFileSink(this.artefactFile(id, path), { parents: true });
  }

  artefactFile(id: string, path: string): string {
    return join(this.snapshotPaths(id).partialDir, path);
  }

  snapshotPaths(id: string): SnapshotPaths {
    return { dir: this.location(id), partialDir: join(this.staging, `${PARTIAL_PREFIX}${id}`) };
  }

  /** The remote `.partial-<id>` that finalize uploads into (and rsync writes a repository to). */
  private uploadDir(id: string): RemotePath {
    return this.at(`${PARTIAL_PREFIX}${id}`);
  }

  async prepare(id: string, warn: (message: string) => void): Promise<void> {
    await stageAfresh(this.staging, this.snapshotPaths(id).partialDir, warn);
    await remoteRun(this.ssh, this.remote, 'mkdir', [this.uploadDir(id).path]);
  }

  rsyncTarget(id: string, folder: string, linkTo?: string): RsyncTarget {
    const upload = this.uploadDir(id);
    return {
      options: ['--protect-args', `--rsh=${rsyncShell(this.ssh)}`],
      target: remoteSpec({ host: upload.host, path: posix.join(upload.path, folder) }),
      // --link-dest is read on the receiving side: a path there, without the host.
      linkDest: linkTo === undefined ? undefined : this.at(posix.join(linkTo, folder)).path,
    };
  }

  /** Hashed where the copy is, by sha256sum on the remote: the source may have changed since. */
  folderSums(id: string, folder: string, signal?: AbortSignal): Promise<ArtefactRecord> {
    const list = join(this.snapshotPaths(id).partialDir, `${folder}.SHA256SUMS`);
    return remoteSha256Sums(this.ssh, this.uploadDir(id), folder, list, signal);
  }

  publishCommands(id: string): string[] {
    const { partialDir, dir } = this.snapshotPaths(id);
    return [
      `write ${partialDir}/${SNAPSHOT_JSON}`,
      renderCommand(this.uploadArgv(id)),
      `rename ${remoteSpec(this.uploadDir(id))} -> ${dir}`,
      `link ${this.location(LATEST_LINK)} -> ${id}`,
    ];
  }

  /** rsync of the staging folder into the remote .partial- folder; merges with a repository/ already there. */
  private uploadArgv(id: string): string[] {
    const { partialDir } = this.snapshotPaths(id);
    return ['rsync', '--recursive', '--links', '--perms', '--times', '--protect-args', `--rsh=${rsyncShell(this.ssh)}`, '--', `${partialDir}/`, `${remoteSpec(this.uploadDir(id))}/`];
  }

  /** Uploads the staged artefacts with snapshot.json, then flushes, renames and links there. */
  async publish(id: string, record: SnapshotRecord, signal?: AbortSignal): Promise<void> {
    const { partialDir } = this.snapshotPaths(id);
    await writeFileAtomic(join(partialDir, SNAPSHOT_JSON), JSON.stringify(record, null, 2) + '\n');
    await run(this.uploadArgv(id), { stdout: 'ignore', signal });
    if (signal?.aborted) throw new BackplanError('INTERRUPTED', `interrupted before ${id} was published`);
    await remoteRun(this.ssh, this.remote, 'publish', [this.remote.path, id], { signal });
    await rm(partialDir, { recursive: true, force: true });
  }

  async pointLatest(id: string | undefined): Promise<void> {
    if (id !== undefined && !isSnapshotFolder(id)) throw new Error(`refusing to point latest at ${id}: not a snapshot`);
    await remoteRun(this.ssh, this.remote, 'link', [this.remote.path, id ?? '']);
  }

  async removeSnapshots(names: string[]): Promise<void> {
    for (const name of names) {
      if (!isSnapshotFolder(name)) throw new Error(`refusing to delete ${name}: not a snapshot folder`);
    }
    if (names.length > 0) await remoteRun(this.ssh, this.remote, 'delete', [this.remote.path, ...names]);
  }

  hasher(id: string): ArtefactHasher {
    return remoteHasher(this.ssh, this.at(id));
  }

  /**
   * Copies the chain but for its large artefacts into a scratch folder beside staging (rsync,
   * hard links and holes kept); restore verifies and reads that copy as a local destination's,
   * and streams the large ones from here. Folder artefacts (an rsync repository/, a directory
   * dump) are still copied: restore's tar and pg_restore read them as folders.
   */
  async fetch(chain: CompleteSnapshot[], opts: { signal?: AbortSignal; log: (line: string) => void }): Promise<LocalSnapshots> {
    return copyChain(this.staging, chain, async (entry, into, leaveOut) => {
      // Anchored at the snapshot folder; artefact names hold none of rsync's wildcards.
      const excludes = leaveOut.map((path) => `--exclude=/${path}`);
      // --sparse: holes come back as holes, which restore's copy of a folder keeps (restore.ts).
      const argv = ['rsync', '--archive', '--hard-links', '--sparse', '--protect-args', `--rsh=${rsyncShell(this.ssh)}`, ...excludes, '--', `${entry.dir}/`, `${into}/`];
      await run(argv, { stdout: 'ignore', signal: opts.signal });
    }, opts.log, this);
  }


  /** Streamed by a remote `cat`: nothing of the snapshot is copied here. */
  async streamFile(path: string, output: Writable, signal?: AbortSignal): Promise<void> {
    await remoteRun(this.ssh, this.remote, 'stream', [this.at(path).path], { stdout: output, signal });
  }

  async listFolder(path: string, onEntry: (entry: FolderEntry) => void, signal?: AbortSignal): Promise<void> {
    await remoteRun(this.ssh, this.remote, 'find', [this.at(path).path, FIND_FORMAT], { stdout: findRecords(onEntry), signal });
  }

  space(): SpaceContext {
    return { where: `the staging folder ${this.staging} or the destination ${this.spec}`, localFolder: this.staging };
  }
}

/** One staging folder per remote destination: `$BACKPLAN_STAGING` or `~/.cache/backplan/staging`. */
function stagingDir(spec: string, env: NodeJS.ProcessEnv): string {
  const root = env.BACKPLAN_STAGING || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'backplan', 'staging');
  return join(root, createHash('sha256').update(spec).digest('hex').slice(0, 16));
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
