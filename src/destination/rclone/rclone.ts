/**
 * A destination on any rclone remote, `rclone:REMOTE:PATH` (S3 and its kin, SFTP, WebDAV, …).
 * Object storage has no rename, so a snapshot is written in place, `<id>/`, and is complete only
 * once its snapshot.json, uploaded last, is there: a folder without it is listed as the partial
 * `.partial-<id>`. Large artefacts stream straight to the remote (./upload.ts); the small ones a
 * step writes as files (config, a directory-format dump, SHA256SUMS lists) are staged locally and
 * uploaded by `publish`. `latest` is a small object naming the newest snapshot, and the lock an
 * object written and read back (see `createText` for what that promises).
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackplanError } from '../../errors.js';
import { PARTIAL_PREFIX, SNAPSHOT_JSON } from '../../record/layout.js';
import type { ArtefactRecord, SnapshotRecord } from '../../record/snapshot-record.js';
import { parseDuration } from '../../util/duration.js';
import { mapLimited } from '../../util/limited.js';
import { binaryName } from '../../util/names.js';
import { isSnapshotFolder, LATEST_LINK, oldestFirst, PIN_FILE, snapshotEntry, VERIFICATION_FILE } from '../shared/listing.js';
import { copyChain, stageAfresh } from '../local/fetch-copy.js';
import type { ArtefactHasher, ArtefactSink, CompleteSnapshot, Destination, FileStat, FolderEntry, LocalSnapshots, RsyncTarget, SnapshotEntry, SnapshotPaths, SpaceContext } from '../types.js';
import { rcloneHasher } from './hashing.js';
import { Rclone, rcloneSpec } from './remote.js';
import type { RclonePath } from './remote.js';
import { uploadSink } from './upload.js';

/** Left in a snapshot folder while it is written: a partial is listed before its first artefact lands. */
const WRITING = '.writing';
/** Small files a listing reads from each snapshot folder. */
const LISTED = [SNAPSHOT_JSON, VERIFICATION_FILE, PIN_FILE];
/** Default age before a later run removes a partial snapshot (BACKPLAN_RCLONE_GRACE). */
const DEFAULT_GRACE = '6h';
/** How long a lock object is left to settle before it is read back. */
const LOCK_SETTLE_MS = 500;
/** Small files read at once for a listing. */
const READ_PARALLEL = 8;

export class RcloneDestination implements Destination {
  readonly spec: string;
  readonly partialGraceMs: number;
  readonly rehashDownloads = true;
  private readonly rclone: Rclone;
  private readonly staging: string;

  constructor(root: RclonePath, env: NodeJS.ProcessEnv = process.env) {
    this.spec = rcloneSpec(root);
    this.rclone = new Rclone(root, env);
    this.staging = stagingDir(this.spec, env);
    this.partialGraceMs = graceOf(env.BACKPLAN_RCLONE_GRACE);
  }

  location(path: string): string {
    return rcloneSpec({ remote: this.rclone.root.remote, path: path === '' ? this.rclone.root.path : posix.join(this.rclone.root.path, path) });
  }

  async list(): Promise<SnapshotEntry[]> {
    const listed = await this.rclone.list('', { depth: 2 });
    const folders = new Map<string, Set<string>>();
    for (const o of listed) {
      const [top, file] = o.Path.split('/');
      if (o.IsDir && file === undefined) folders.set(top!, folders.get(top!) ?? new Set());
      else if (!o.IsDir && file !== undefined) folders.set(top!, (folders.get(top!) ?? new Set()).add(file));
    }
    const snapshotFolders = [...folders].filter(([name]) => isSnapshotFolder(name));
    const texts = await this.readListed(snapshotFolders.flatMap(([name, files]) => LISTED.filter((f) => files.has(f)).map((f) => `${name}/${f}`)));
    const entries: SnapshotEntry[] = [];
    for (const [name, files] of snapshotFolders) {
      // No rename here: a folder is published by its snapshot.json alone.
      const published = files.has(SNAPSHOT_JSON) || name.startsWith(PARTIAL_PREFIX);
      const listedName = published ? name : `${PARTIAL_PREFIX}${name}`;
      const text = (file: string) => (files.has(file) ? (texts.get(`${name}/${file}`) ?? '') : undefined);
      const entry = snapshotEntry(listedName, this.location(name), { snapshotJson: text(SNAPSHOT_JSON), verificationJson: text(VERIFICATION_FILE), pinned: files.has(PIN_FILE) });
      if (entry) entries.push(entry);
    }
    return oldestFirst(entries);
  }

  /** The small files of a listing, a few requests at a time over the daemon's kept-alive connections. */
  private async readListed(paths: string[]): Promise<Map<string, string>> {
    const texts = await mapLimited(paths, READ_PARALLEL, (path) => this.readText(path));
    return new Map(paths.flatMap((path, i) => (texts[i] === undefined ? [] : [[path, texts[i]!] as const])));
  }

  async names(): Promise<string[]> {
    return (await this.rclone.list('')).map((o) => o.Name);
  }

  async readText(path: string): Promise<string | undefined> {
    return (await this.rclone.read(path))?.text();
  }

  /** One PUT: an object store replaces an object whole (over SFTP, rclone writes the file in place). */
  async writeText(path: string, text: string): Promise<void> {
    await this.rclone.upload(path, Buffer.from(text));
  }

  /**
   * No object store offers create-if-absent through rclone: the object is written only if it is
   * not listed, then read back LOCK_SETTLE_MS later; a rival's text there means the rival has it
   * (the last writer wins, and each reads who that was). Two runs starting within that window on a store whose listings lag
   * behind its writes could both believe they hold it; see docs/architecture.md.
   */
  async createText(path: string, text: string): Promise<boolean> {
    if (await this.rclone.statFile(path)) return false;
    const mine = text.endsWith('\n') ? text : text + '\n';
    await this.writeText(path, mine);
    await sleep(LOCK_SETTLE_MS);
    return (await this.readText(path)) === mine;
  }

  async removeFile(path: string): Promise<void> {
    await this.rclone.rc('operations/deletefile', { fs: this.rclone.fs(), remote: path }, { missingOk: true });
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const o = await this.rclone.statFile(path);
    if (!o) return undefined;
    const mtimeMs = Date.parse(o.ModTime);
    return { bytes: o.Size, mtimeMs, ageMs: Date.now() - mtimeMs };
  }

  snapshotPaths(id: string): SnapshotPaths {
    return { dir: this.location(id), partialDir: join(this.staging, `${PARTIAL_PREFIX}${id}`) };
  }

  artefactSink(id: string, path: string): ArtefactSink {
    return uploadSink(this.rclone, posix.join(id, path));
  }

  async prepare(id: string, warn: (message: string) => void): Promise<void> {
    await stageAfresh(this.staging, this.snapshotPaths(id).partialDir, warn);
    await this.writeText(posix.join(id, WRITING), `${new Date().toISOString()} pid ${process.pid}\n`);
  }

  rsyncTarget(): RsyncTarget {
    throw needsFilesystem(this.spec);
  }

  folderSums(): Promise<ArtefactRecord> {
    return Promise.reject(needsFilesystem(this.spec));
  }

  publishCommands(id: string): string[] {
    const { partialDir } = this.snapshotPaths(id);
    const target = this.rclone.target(id);
    // The calls publish makes to this process's rclone daemon, as `rclone rc` would make them.
    return [
      `rclone rc sync/copy srcFs=${partialDir} dstFs=${target}`,
      `rclone rc operations/uploadfile ${target}/${SNAPSHOT_JSON}  # last: the commit`,
      `rclone rc operations/deletefile ${target}/${WRITING}`,
      `rclone rc operations/uploadfile ${this.rclone.target(LATEST_LINK)}  # <- ${id}`,
    ];
  }

  /** Uploads what was staged, then snapshot.json (the commit: nothing is renamed), then `latest`. */
  async publish(id: string, record: SnapshotRecord, signal?: AbortSignal): Promise<void> {
    const { partialDir } = this.snapshotPaths(id);
    await this.rclone.rc('sync/copy', { srcFs: partialDir, dstFs: this.rclone.fs(id) }, { signal });
    if (signal?.aborted) throw new BackplanError('INTERRUPTED', `interrupted before ${id} was published`);
    await this.writeText(posix.join(id, SNAPSHOT_JSON), JSON.stringify(record, null, 2) + '\n');
    await Promise.all([this.removeFile(posix.join(id, WRITING)), this.pointLatest(id)]);
    await rm(partialDir, { recursive: true, force: true });
  }

  async pointLatest(id: string | undefined): Promise<void> {
    if (id === undefined) return this.removeFile(LATEST_LINK);
    if (!isSnapshotFolder(id)) throw new Error(`refusing to point latest at ${id}: not a snapshot`);
    await this.writeText(LATEST_LINK, `${id}\n`);
  }

  /** snapshot.json goes first: a delete killed halfway leaves a partial, never a broken snapshot. */
  async removeSnapshots(names: string[]): Promise<void> {
    for (const name of names) {
      if (!isSnapshotFolder(name)) throw new Error(`refusing to delete ${name}: not a snapshot folder`);
    }
    for (const name of names) {
      const id = name.startsWith(PARTIAL_PREFIX) ? name.slice(PARTIAL_PREFIX.length) : name;
      const record = await this.rclone.statFile(posix.join(id, SNAPSHOT_JSON));
      if (record && name !== id) continue; // published since it was listed as partial
      if (record) await this.removeFile(posix.join(id, SNAPSHOT_JSON));
      await this.rclone.rc('operations/purge', { fs: this.rclone.fs(), remote: id }, { missingOk: true });
    }
  }

  hasher(id: string): ArtefactHasher {
    return rcloneHasher(this.rclone, id);
  }

  /**
   * Copies the chain but for its large artefacts into a scratch folder beside staging; restore
   * verifies and reads that copy, and streams the large ones from the daemon.
   */
  async fetch(chain: CompleteSnapshot[], opts: { signal?: AbortSignal; log: (line: string) => void }): Promise<LocalSnapshots> {
    return copyChain(this.staging, chain, async (entry, into, leaveOut) => {
      // rclone filter rules, anchored at the snapshot folder; artefact names hold none of its wildcards.
      const _filter = { ExcludeRule: leaveOut.map((path) => `/${path}`) };
      await this.rclone.rc('sync/copy', { srcFs: this.rclone.fs(entry.id), dstFs: into, _filter }, { signal: opts.signal });
    }, opts.log, this);
  }

  /** Streamed from the daemon (`--rc-serve`): nothing of the snapshot is copied here. */
  async streamFile(path: string, output: Writable, signal?: AbortSignal): Promise<void> {
    const response = await this.rclone.read(path, signal);
    if (!response?.body) throw new BackplanError('SNAPSHOT', `${this.location(path)} does not exist`, { hint: 'run backplan verify on this snapshot' });
    await streamPipeline(Readable.fromWeb(response.body as WebReadable<Uint8Array>), output, { signal });
  }

  /** Object storage keeps no modes or link targets: files and folders, with the usual modes. */
  async listFolder(path: string, onEntry: (entry: FolderEntry) => void, signal?: AbortSignal): Promise<void> {
    for (const o of await this.rclone.list(path, { depth: Infinity, signal })) {
      const kind = o.IsDir ? 'directory' : 'file';
      const mtime = Math.floor(Date.parse(o.ModTime) / 1000);
      onEntry({ path: binaryName(Buffer.from(o.Path, 'utf8')), kind, size: o.IsDir ? 0 : o.Size, mode: o.IsDir ? 0o755 : 0o644, mtime });
    }
  }

  space(): SpaceContext {
    return { where: `the staging folder ${this.staging} or the destination ${this.spec}`, localFolder: this.staging };
  }
}

/** The rsync strategy writes a folder tree in place: rclone remotes are refused at validate too. */
function needsFilesystem(spec: string): BackplanError {
  return new BackplanError('USAGE', `the rsync strategy cannot write to ${spec}: it needs a filesystem`, {
    hint: 'use repository.strategy tar or incremental with an rclone destination',
  });
}

/** One staging folder per destination, as for ssh: `$BACKPLAN_STAGING` or `~/.cache/backplan/staging`. */
function stagingDir(spec: string, env: NodeJS.ProcessEnv): string {
  const root = env.BACKPLAN_STAGING || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'backplan', 'staging');
  return join(root, createHash('sha256').update(spec).digest('hex').slice(0, 16));
}

function graceOf(text: string | undefined): number {
  try {
    return parseDuration(text || DEFAULT_GRACE);
  } catch {
    throw new BackplanError('USAGE', `BACKPLAN_RCLONE_GRACE=${text} is no duration`, { hint: 'write it like 6h or 30m (0s removes partial snapshots at once)' });
  }
}
