/**
 * The destination interface: everything backplan does where snapshots live, whatever kind of
 * place that is (a local folder, a folder over ssh, an rclone remote). Commands and steps hold a `Destination`
 * picked once by `openDestination` (./registry.ts) and never ask which kind it is.
 *
 * Paths handed to a destination are relative to its root, `/`-separated: `.lock`,
 * `<id>/snapshot.json`. A leaf module: it imports types only.
 */
import type { Writable } from 'node:stream';
import type { ArtefactRecord, SnapshotRecord } from '../record/snapshot-record.js';
import type { SnapshotKind } from '../record/layout.js';

export interface SnapshotEntry {
  id: string;
  /** The folder's name: `<id>`, or `.partial-<id>` while written or deleted. */
  name: string;
  /** Where the folder is, for messages and for local reads (a local path, or `host:/path`). */
  dir: string;
  time: Date;
  kind: SnapshotKind;
  /** Published with a valid snapshot.json (whether it is restorable is record/health.ts's call). */
  recorded: boolean;
  pinned: boolean;
  record?: SnapshotRecord;
  /** snapshot.json exists, readable or not. */
  recordFile: boolean;
  /** Why the snapshot.json that exists is no record. */
  recordProblem?: string;
  verification?: Verification;
}

/** What verification.json says of the last `verify`. */
export interface Verification {
  verifiedAt?: string;
  failedAt?: string;
  /** The first problem found, for messages. */
  summary?: string;
}

/** A complete snapshot, its record read. */
export type CompleteSnapshot = SnapshotEntry & { record: SnapshotRecord };

export interface VerifyProblem {
  path: string;
  problem: string;
}

export interface VerifyReport {
  checkedFiles: number;
  checkedBytes: number;
  problems: VerifyProblem[];
}

/** Hashes a published snapshot's files where they lie; comparing is shared (record/verify.ts). */
export interface ArtefactHasher {
  /** sha256 and size of each artefact, in order; undefined for a missing one. */
  hash(artefacts: ArtefactRecord[]): Promise<({ sha256: string; bytes: number } | undefined)[]>;
  /** Sizes only, where listing is cheaper than hashing (object storage); undefined for a missing one. */
  sizes?(artefacts: ArtefactRecord[]): Promise<(number | undefined)[]>;
  /** Follows a SHA256SUMS list into its folder, adding what it finds to the report. */
  checkList(listPath: string, report: VerifyReport): Promise<void>;
}

/** Where a run's snapshot is written, and where it will be once published. */
export interface SnapshotPaths {
  /** The published snapshot, as users see it: `DEST/<id>` or `host:/path/<id>`. */
  dir: string;
  /** The local folder the steps write the artefacts into, until `publish`. */
  partialDir: string;
}

/** How `rsync` reaches a folder of a snapshot being written. */
export interface RsyncTarget {
  /** Options rsync needs to get there (a remote shell), before the paths. */
  options: string[];
  /** The folder, as rsync names it. */
  target: string;
  /** `--link-dest` for the same folder of an earlier snapshot, as the receiving side sees it. */
  linkDest?: string;
}

/** Where a step writes one artefact: sha256 and size are known the moment the last byte is down. */
export interface ArtefactSink {
  stream: Writable;
  /** Resolves once everything is written durably; rejects if the stream failed or was destroyed. */
  done(): Promise<{ sha256: string; bytes: number }>;
}

/** A snapshot chain readable as local folders (a remote one's small files copied here first). */
export interface LocalSnapshots {
  /** The chain's snapshots, their `dir` local folders. */
  entries: CompleteSnapshot[];
  /** Where those folders are, to verify them. */
  local: Destination;
  /** True when the snapshots were copied (their checksums are worth checking again). */
  copied: boolean;
  /** Deletes the copy; nothing for a folder that was read in place. */
  release(): Promise<void>;
  /**
   * Set when the copy left out the large artefacts (record/streamed.ts): restore streams them
   * from this destination (`streamFile`), hashing them as they pass.
   */
  remote?: Destination;
}

/** What a run was writing to when a disk filled, for the message. */
export interface SpaceContext {
  /** `the destination /mnt/b`, or the staging folder and the remote. */
  where: string;
  /** A local folder on the filesystem whose free space is worth reporting. */
  localFolder: string;
}

/** A file's size and age where it lies. */
export interface FileStat {
  bytes: number;
  /** Last modified, by the clock of the machine the file is on. */
  mtimeMs: number;
  /** How long ago that was, by the same clock: a remote host's clock may differ from ours. */
  ageMs: number;
}

/** One entry of a snapshot's folder (an rsync repository/), as `ls` shows it. */
export interface FolderEntry {
  /** Relative to the folder listed, a binary string (util/names.ts). */
  path: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits (with setuid, setgid, sticky). */
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** A symlink's target, a binary string. */
  linkpath?: string;
}

export interface Destination {
  /** As the manifest names it, a local path made absolute. */
  readonly spec: string;
  /** `spec` joined with a relative path, for messages. */
  location(path: string): string;

  /** Every snapshot folder (complete, partial or broken), oldest first; a missing destination is empty. */
  list(): Promise<SnapshotEntry[]>;
  /** Names at the top of the destination. */
  names(): Promise<string[]>;

  /** A small file's text; undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** Writes a small file durably, replacing it atomically. */
  writeText(path: string, text: string): Promise<void>;
  /** Creates a small file only if it does not exist (the lock): false when it does. */
  createText(path: string, text: string): Promise<boolean>;
  /** Removes a small file; a missing one is fine. */
  removeFile(path: string): Promise<void>;
  /** A file's size and age (how old an unreadable lock is); undefined when it does not exist. */
  stat(path: string): Promise<FileStat | undefined>;

  /**
   * How long a snapshot folder without snapshot.json is left alone after its id's time: a run
   * may still be writing it where the lock cannot be trusted (0 where it can).
   */
  readonly partialGraceMs: number;
  /**
   * Re-hashing here downloads every byte (object storage): a run's verify step then checks the
   * sizes of what it just uploaded, hashed on the way, and leaves re-hashing to `backplan verify`.
   */
  readonly rehashDownloads: boolean;

  /** The paths of snapshot `id` (pure: nothing is touched). */
  snapshotPaths(id: string): SnapshotPaths;
  /** Makes the folders a run writes snapshot `id` into; clears what interrupted runs staged. */
  prepare(id: string, warn: (message: string) => void): Promise<void>;
  /**
   * A stream into artefact `path` (relative, `/`-separated) of snapshot `id`, hashed on the way:
   * a file in `partialDir`, or an upload straight to where the snapshot lives.
   */
  artefactSink(id: string, path: string): ArtefactSink;
  /**
   * The local file artefact `path` of snapshot `id` is written into, where this kind stages
   * artefacts in files (then a command may write it itself, execute/write-artefact.ts); absent
   * where they go straight to the remote.
   */
  artefactFile?(id: string, path: string): string;
  /** How rsync writes `folder` of snapshot `id`, linking unchanged files to snapshot `linkTo`. */
  rsyncTarget(id: string, folder: string, linkTo?: string): RsyncTarget;
  /** Hashes `folder` of snapshot `id` where rsync wrote it into `<folder>.SHA256SUMS` in partialDir. */
  folderSums(id: string, folder: string, signal?: AbortSignal): Promise<ArtefactRecord>;
  /** What `publish` does, for plans. */
  publishCommands(id: string): string[];
  /** Makes snapshot `id` complete: snapshot.json written last, then atomically visible, then `latest`. */
  publish(id: string, record: SnapshotRecord, signal?: AbortSignal): Promise<void>;
  /** Points `latest` at snapshot `id` atomically; undefined removes it. */
  pointLatest(id: string | undefined): Promise<void>;
  /** Deletes snapshot folders by name (`<id>` or `.partial-<id>`); a crash halfway leaves a partial, never a broken snapshot. */
  removeSnapshots(names: string[]): Promise<void>;

  /** Hashes snapshot `id`'s files where they are. */
  hasher(id: string): ArtefactHasher;
  /** The chain as local folders, for restore; a remote kind copies the small files only (LocalSnapshots.remote). */
  fetch(chain: CompleteSnapshot[], opts: { signal?: AbortSignal; log: (line: string) => void }): Promise<LocalSnapshots>;
  /** For the message when a disk fills. */
  space(): SpaceContext;

  /**
   * Reading a snapshot in place, without copying it (`ls`): a file's bytes into `output` (ended
   * when done), and every entry under a folder, streamed. A kind without them is read through `fetch`.
   */
  streamFile?(path: string, output: Writable, signal?: AbortSignal): Promise<void>;
  listFolder?(path: string, onEntry: (entry: FolderEntry) => void, signal?: AbortSignal): Promise<void>;
}
