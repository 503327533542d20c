/**
 * A destination that is a folder on this machine. Snapshots are written in place as
 * `.partial-<id>` and published by a rename, the one atomic step a filesystem offers.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { BackplanError } from '../../errors.js';
import { fsyncPath, writeFileAtomic } from '../../util/durable.js';
import { hashingFileSink } from '../../execute/hashing-sink.js';
import { removeTree } from '../../execute/remove-tree.js';
import { pipeline, run } from '../../execute/subprocess.js';
import { sha256File, writeSha256Sums } from '../../record/checksums.js';
import { mapLimited } from '../../util/limited.js';
import { readFileStream } from '../../util/read-file.js';
import { PARTIAL_PREFIX, SNAPSHOT_JSON } from '../../record/layout.js';
import type { ArtefactRecord, SnapshotRecord } from '../../record/snapshot-record.js';
import { FIND_FORMAT, findRecords } from '../shared/folder-listing.js';
import { CHECKERS, sumsCheckSink } from '../shared/sums-check.js';
import { isSnapshotFolder, LATEST_LINK, oldestFirst, PIN_FILE, snapshotEntry, VERIFICATION_FILE } from '../shared/listing.js';
import type { ArtefactHasher, ArtefactSink, CompleteSnapshot, Destination, FileStat, FolderEntry, LocalSnapshots, RsyncTarget, SnapshotEntry, SnapshotPaths, SpaceContext, VerifyReport } from '../types.js';

/** Snapshot folders read at once while listing: enough to hide the file-system calls' latency. */
const LIST_CONCURRENCY = 8;

export class LocalDestination implements Destination {
  readonly spec: string;

  constructor(path: string) {
    this.spec = resolve(path);
  }

  location(path: string): string {
    return join(this.spec, path);
  }

  async list(): Promise<SnapshotEntry[]> {
    // Several folders at a time: each costs a few file reads, and a run lists the destination
    // three times (plan, lock, prune); one after the other, 10 snapshots took 15-20 ms.
    const entries = await mapLimited((await this.names()).filter(isSnapshotFolder), LIST_CONCURRENCY, (name) => this.entry(name));
    return oldestFirst(entries.filter((e): e is SnapshotEntry => e !== undefined));
  }

  private async entry(name: string): Promise<SnapshotEntry | undefined> {
    const dir = this.location(name);
    const partial = name.startsWith(PARTIAL_PREFIX);
    const snapshotJson = partial ? undefined : await readListed(join(dir, SNAPSHOT_JSON));
    const verificationJson = snapshotJson === undefined ? undefined : await readListed(join(dir, VERIFICATION_FILE));
    const pinned = await exists(join(dir, PIN_FILE));
    return snapshotEntry(name, dir, { snapshotJson, verificationJson, pinned });
  }

  async names(): Promise<string[]> {
    try {
      return await readdir(this.spec);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(this.location(path), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  writeText(path: string, text: string): Promise<void> {
    return writeFileAtomic(this.location(path), text);
  }

  async createText(path: string, text: string): Promise<boolean> {
    const file = this.location(path);
    try {
      await mkdir(dirname(file), { recursive: true });
      const handle = await open(file, 'wx', 0o644);
      try {
        await handle.writeFile(text.endsWith('\n') ? text : text + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new BackplanError('STEP_FAILED', `cannot create ${file}: ${(e as Error).message}`, {
        hint: 'check that the destination exists and is writable',
      });
    }
  }

  async removeFile(path: string): Promise<void> {
    await rm(this.location(path), { force: true });
  }

  async stat(path: string): Promise<FileStat | undefined> {
    try {
      const { size, mtimeMs } = await stat(this.location(path));
      return { bytes: size, mtimeMs, ageMs: Date.now() - mtimeMs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
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
    return { dir: this.location(id), partialDir: this.location(`${PARTIAL_PREFIX}${id}`) };
  }

  async prepare(id: string): Promise<void> {
    await mkdir(this.spec, { recursive: true });
    await mkdir(this.snapshotPaths(id).partialDir, { mode: 0o700 });
  }

  rsyncTarget(id: string, folder: string, linkTo?: string): RsyncTarget {
    const linkDest = linkTo === undefined ? undefined : this.location(join(linkTo, folder));
    return { options: [], target: join(this.snapshotPaths(id).partialDir, folder), linkDest };
  }

  folderSums(id: string, folder: string, signal?: AbortSignal): Promise<ArtefactRecord> {
    return writeSha256Sums(this.snapshotPaths(id).partialDir, folder, signal);
  }

  publishCommands(id: string): string[] {
    const { partialDir, dir } = this.snapshotPaths(id);
    return [`write ${partialDir}/${SNAPSHOT_JSON}`, `rename ${partialDir} -> ${dir}`, `link ${this.location(LATEST_LINK)} -> ${id}`];
  }

  /**
   * In the order that keeps it all-or-nothing across a crash: flush every artefact, write
   * snapshot.json (fsynced), rename .partial-<id> to <id> (fsyncing the folder), then `latest`.
   */
  async publish(id: string, record: SnapshotRecord, signal?: AbortSignal): Promise<void> {
    const { partialDir, dir } = this.snapshotPaths(id);
    await flushArtefacts(partialDir, record, signal);
    await writeFileAtomic(join(partialDir, SNAPSHOT_JSON), JSON.stringify(record, null, 2) + '\n');
    // The rename is the commit: an interrupted run (exit 130) leaves its snapshot .partial-.
    if (signal?.aborted) throw new BackplanError('INTERRUPTED', `interrupted before ${id} was published`);
    await rename(partialDir, dir);
    await fsyncPath(this.spec);
    await this.pointLatest(id);
  }

  /** A new link renamed over the old one. */
  async pointLatest(id: string | undefined): Promise<void> {
    const link = this.location(LATEST_LINK);
    if (id === undefined) {
      await rm(link, { force: true });
      return;
    }
    if (!isSnapshotFolder(id)) throw new Error(`refusing to point latest at ${id}: not a snapshot`);
    const temp = `${link}.tmp-${process.pid}`;
    await unlink(temp).catch(() => undefined);
    await symlink(id, temp);
    await rename(temp, link);
    await fsyncPath(this.spec);
  }

  async removeSnapshots(names: string[]): Promise<void> {
    for (const name of names) {
      if (!isSnapshotFolder(name)) throw new Error(`refusing to delete ${name}: not a snapshot folder`);
      let doomed = this.location(name);
      // Renamed first: a delete killed halfway leaves a .partial-, never a broken snapshot.
      if (!name.startsWith(PARTIAL_PREFIX)) {
        const partial = this.location(`${PARTIAL_PREFIX}${name}`);
        const renamed = await rename(doomed, partial).then(
          () => true,
          (e: NodeJS.ErrnoException) => {
            if (e.code === 'ENOENT') return false;
            throw e;
          },
        );
        if (!renamed) continue;
        doomed = partial;
      }
      await removeTree(doomed);
    }
  }

  hasher(id: string): ArtefactHasher {
    const dir = this.location(id);
    return {
      // Two at a time: one file's reads overlap the other's hashing (OpenSSL, on this thread).
      hash: (artefacts) => mapLimited(artefacts, 2, (artefact) => sha256File(join(dir, artefact.path)).catch(() => undefined)),
      checkList: (listPath, report) => checkList(dir, listPath, report),
    };
  }

  async fetch(chain: CompleteSnapshot[]): Promise<LocalSnapshots> {
    return { entries: chain, local: this, copied: false, release: async () => undefined };
  }

  space(): SpaceContext {
    return { where: `the destination ${this.spec}`, localFolder: this.spec };
  }

  async streamFile(path: string, output: Writable, signal?: AbortSignal): Promise<void> {
    await streamPipeline(readFileStream(this.location(path)), output, { signal });
  }

  async listFolder(path: string, onEntry: (entry: FolderEntry) => void, signal?: AbortSignal): Promise<void> {
    await run(['find', this.location(path), '-mindepth', '1', '-printf', FIND_FORMAT], { stdout: findRecords(onEntry), signal });
  }
}

/**
 * Makes every artefact of the record durable. A folder artefact (an rsync repository, a
 * directory dump) holds files that rsync and pg_dump never fsync: syncfs(2) of the destination's
 * filesystem then. Otherwise each file (fsynced already by whoever wrote it) and each folder
 * holding one: syncfs would also wait for every other writer's dirty pages on that filesystem,
 * a busy database's among them.
 */
async function flushArtefacts(partialDir: string, record: SnapshotRecord, signal?: AbortSignal): Promise<void> {
  if (record.artefacts.some((a) => a.covers)) {
    await run(['sync', '--file-system', partialDir], { stdout: 'ignore', signal });
    return;
  }
  const files = record.artefacts.map((a) => join(partialDir, a.path));
  const folders = new Set([partialDir]);
  for (const file of files) for (let dir = dirname(file); dir.startsWith(`${partialDir}/`); dir = dirname(dir)) folders.add(dir);
  await Promise.all([...files, ...folders].map(fsyncPath));
}

/**
 * sha256sum's own check of a SHA256SUMS list (exit 1: some file failed, which the report names),
 * a long list dealt round-robin to one sha256sum per core (see CHECKERS).
 */
async function checkList(dir: string, listPath: string, report: VerifyReport): Promise<void> {
  const sink = () => sumsCheckSink(listPath, report);
  const parts = (await stat(join(dir, listPath))).size < CHECKERS.splitFrom ? 1 : Math.min(availableParallelism(), CHECKERS.most);
  if (parts === 1) {
    await run(['sha256sum', '--check', '--', listPath], { cwd: dir, stdout: sink(), okExitCodes: [0, 1] });
    return;
  }
  const checks = Array.from({ length: parts }, (_, k) =>
    pipeline([['split', `--number=r/${k + 1}/${parts}`, '--', listPath], ['sha256sum', '--check', '-']], { cwd: dir, output: sink(), okExitCodes: [[0], [0, 1]] }),
  );
  // Every checker has ended before a failure is thrown: none goes on adding to the report.
  const failed = (await Promise.allSettled(checks)).find((c) => c.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A listed file's text; an unreadable one reads as invalid JSON, so its snapshot is not complete. */
async function readListed(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : '';
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
