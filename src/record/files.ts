/**
 * Small files at a destination (lock, snapshot.json, verification.json, .last-run.json, pins),
 * read and written the same way whether the path is local or `host:/path` over ssh.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { remoteDestination } from '../util/destination.js';
import { readRemoteFile, removeRemoteFiles, writeRemoteFile } from './remote/destination.js';

/** The file's text; undefined when it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  const remote = remoteDestination(path);
  if (remote) return readRemoteFile(remote);
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeText(path: string, text: string): Promise<void> {
  const remote = remoteDestination(path);
  if (remote) await writeRemoteFile(remote, text);
  else await writeFile(path, text);
}

/** Removes the file; a missing one is fine. */
export async function removeFile(path: string): Promise<void> {
  const remote = remoteDestination(path);
  if (remote) await removeRemoteFiles(remote.host, [remote.path]);
  else await rm(path, { force: true });
}
