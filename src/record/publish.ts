import { open, rename, rm, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BackplanError } from '../errors.js';
import { run } from '../execute/subprocess.js';
import { remoteDestination } from '../util/destination.js';
import { SNAPSHOT_JSON } from './layout.js';
import type { SnapshotPaths } from './layout.js';
import { publishRemote, writeRemoteFile } from './remote/destination.js';
import type { SnapshotRecord } from './snapshot-record.js';

/**
 * Makes a snapshot complete, in the order that keeps it all-or-nothing across a crash:
 * flush every artefact to disk, write snapshot.json (fsynced), rename .partial-<id> to <id>
 * (fsyncing the destination folder), and only then move `latest`. Aborting stops it before the
 * rename. A remote snapshot is uploaded from staging first, then published the same way there.
 */
export async function publishSnapshot(record: SnapshotRecord, paths: SnapshotPaths & { latestLink: string }, signal?: AbortSignal): Promise<void> {
  const { partialDir, dir, latestLink, uploadDir } = paths;
  const upload = uploadDir === undefined ? undefined : remoteDestination(uploadDir);
  if (upload) {
    await writeJsonSynced(join(partialDir, SNAPSHOT_JSON), record);
    await publishRemote(partialDir, upload, basename(dir), signal);
    await rm(partialDir, { recursive: true, force: true });
    return;
  }
  // syncfs(2) on the destination's filesystem: covers files written by pg_dump and rsync too.
  await run(['sync', '--file-system', partialDir], { stdout: 'ignore', signal });
  await writeJsonSynced(join(partialDir, SNAPSHOT_JSON), record);
  await fsyncDir(partialDir);
  // The rename is the commit: an interrupted run (exit 130) leaves its snapshot .partial-.
  if (signal?.aborted) throw new BackplanError('INTERRUPTED', `interrupted before ${basename(dir)} was published`);
  await rename(partialDir, dir);
  await fsyncDir(dirname(dir));
  await pointLatest(latestLink, basename(dir));
}

/** Writes JSON durably, at a local path or a remote one (`host:/path`). */
export async function writeJsonSynced(path: string, value: unknown): Promise<void> {
  const remote = remoteDestination(path);
  if (remote) return writeRemoteFile(remote, JSON.stringify(value, null, 2) + '\n');
  const file = await open(path, 'w', 0o600);
  try {
    await file.writeFile(JSON.stringify(value, null, 2) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
}

export async function fsyncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Replaces the `latest` symlink atomically (a new link renamed over the old one). */
async function pointLatest(link: string, target: string): Promise<void> {
  const temp = `${link}.tmp-${process.pid}`;
  await unlink(temp).catch(() => undefined);
  await symlink(target, temp);
  await rename(temp, link);
  await fsyncDir(dirname(link));
}
