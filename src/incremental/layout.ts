/**
 * Where a node's files live, per repository layout, as paths relative to the repository folder:
 * the names the change query turns into and tar archives.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplanError } from '../errors.js';
import type { RepositoryLayout } from '../resolve/types.js';

/** A layout the database can describe: AiiDA 1.x node folders or a 2.x disk-objectstore container. */
export type NodeLayout =
  | { kind: 'aiida-1' }
  | {
      kind: 'disk-objectstore';
      /** The container, relative to the repository folder ('' when the folder is the container). */
      container: string;
      /** disk-objectstore's loose_prefix_len: `loose/<key[:n]>/<key[n:]>`. */
      loosePrefixLength: number;
    };

/** One row of the change query: the node's uuid and, for 2.x, its repository_metadata. */
export interface NodeRow {
  uuid: string;
  repository_metadata?: unknown;
}

export async function nodeLayout(layout: RepositoryLayout, source: string): Promise<NodeLayout> {
  if (layout === 'aiida-1') return { kind: 'aiida-1' };
  if (layout === 'disk-objectstore') {
    const container = (await isDirectory(join(source, 'container'))) ? 'container' : '';
    return { kind: 'disk-objectstore', container, loosePrefixLength: await loosePrefixLength(join(source, container)) };
  }
  throw new BackplanError('PROFILE', `the incremental strategy needs an AiiDA repository, but ${source} has the ${layout} layout`, {
    hint: 'only AiiDA 1.x node folders and 2.x disk-objectstore containers are described by the database; use strategy tar or rsync for other folders',
  });
}

/** The paths (relative to the repository) that hold a node's files; some may not exist. */
export function nodePaths(layout: NodeLayout, row: NodeRow): string[] {
  if (layout.kind === 'aiida-1') return [nodeFolder(row.uuid)];
  return objectKeys(row.repository_metadata).map((key) => loosePath(layout, key));
}

/** AiiDA 1.x: `repository/node/<uuid[:2]>/<uuid[2:4]>/<uuid[4:]>` (the uuid with its dashes). */
export function nodeFolder(uuid: string): string {
  return `repository/node/${uuid.slice(0, 2)}/${uuid.slice(2, 4)}/${uuid.slice(4)}`;
}

export function loosePath(layout: Extract<NodeLayout, { kind: 'disk-objectstore' }>, key: string): string {
  const n = layout.loosePrefixLength;
  const name = n > 0 ? `${key.slice(0, n)}/${key.slice(n)}` : key;
  return join(layout.container, 'loose', name);
}

/** Keys are sha256 hex: anything else is not an object name and must never reach a path. */
const KEY = /^[0-9a-f]{64}$/;

/**
 * The object keys a repository_metadata names: a folder is `{"o": {name: child}}`, a file
 * `{"k": key}`. Walked with an explicit stack, so a deep tree cannot exhaust the call stack.
 */
export function objectKeys(metadata: unknown): string[] {
  const keys: string[] = [];
  const stack = [metadata];
  while (stack.length > 0) {
    const entry = stack.pop();
    if (typeof entry !== 'object' || entry === null) continue;
    const { k, o } = entry as { k?: unknown; o?: unknown };
    if (typeof k === 'string' && KEY.test(k)) keys.push(k);
    if (typeof o === 'object' && o !== null) for (const child of Object.values(o)) stack.push(child);
  }
  return keys;
}

async function loosePrefixLength(container: string): Promise<number> {
  try {
    const config = JSON.parse(await readFile(join(container, 'config.json'), 'utf8')) as { loose_prefix_len?: unknown };
    return typeof config.loose_prefix_len === 'number' ? config.loose_prefix_len : 2;
  } catch {
    return 2; // disk-objectstore's default
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
