import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { remoteDestination, remoteSpec } from '../util/destination.js';

/** `2026-11-22T030000Z-full`: sortable, readable, and safe in every filesystem. */
export function snapshotId(time: Date, kind: 'full' | 'incr'): string {
  const stamp = time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '');
  return `${stamp}-${kind}`;
}

const ID = /^(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})(\d{2})Z-(full|incr)$/;

export function parseSnapshotId(id: string): { time: Date; kind: 'full' | 'incr' } | undefined {
  const m = ID.exec(id);
  if (!m) return undefined;
  return { time: new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`), kind: m[5] as 'full' | 'incr' };
}

export const PARTIAL_PREFIX = '.partial-';
export const SNAPSHOT_JSON = 'snapshot.json';

export interface SnapshotPaths {
  /** The published snapshot: `DEST/<id>` (`host:/path/<id>` for a remote destination). */
  dir: string;
  /** Where the run writes its artefacts: `DEST/.partial-<id>`, or the local staging folder. */
  partialDir: string;
  /** Remote destinations: the `.partial-<id>` folder there, which finalize uploads into. */
  uploadDir?: string;
}

/**
 * A remote destination's artefacts are made in a local staging folder and uploaded by finalize
 * (an rsync repository goes straight to the remote, hard-linked to the previous snapshot there).
 */
export function snapshotPaths(destination: string, id: string, env: NodeJS.ProcessEnv = process.env): SnapshotPaths {
  const remote = remoteDestination(destination);
  if (!remote) return { dir: join(destination, id), partialDir: join(destination, `${PARTIAL_PREFIX}${id}`) };
  const at = (name: string) => remoteSpec({ host: remote.host, path: posix.join(remote.path, name) });
  return { dir: at(id), partialDir: join(stagingDir(destination, env), `${PARTIAL_PREFIX}${id}`), uploadDir: at(`${PARTIAL_PREFIX}${id}`) };
}

/** One staging folder per remote destination: `$BACKPLAN_STAGING` or `~/.cache/backplan/staging`. */
export function stagingDir(destination: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.BACKPLAN_STAGING || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'backplan', 'staging');
  return join(root, createHash('sha256').update(destination).digest('hex').slice(0, 16));
}
