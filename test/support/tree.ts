/**
 * A folder tree as a round trip must keep it: every entry by the bytes of its path, with its
 * kind, mode, size, content hash, symlink target, hard-link group and (for files and folders,
 * to the second, as tar keeps them) its mtime. Compared with deep equality.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { sha256File } from '../../src/record/checksums.js';
import { binaryName, displayName } from '../../src/util/names.js';

export interface TreeEntry {
  kind: 'file' | 'folder' | 'symlink';
  mode: string;
  mtime?: number;
  size?: number;
  sha256?: string;
  target?: string;
  /** For the second and later names of a hard-linked file: the first name seen. */
  linkOf?: string;
}

/** Entries by displayed path (names that are not UTF-8 show as `\xNN`); the root is `.`. */
export async function treeState(root: string): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  const inodes = new Map<number, string>();
  const visit = async (path: Buffer, name: string) => {
    const st = await lstat(path);
    const entry: TreeEntry = { kind: st.isDirectory() ? 'folder' : st.isSymbolicLink() ? 'symlink' : 'file', mode: (st.mode & 0o7777).toString(8) };
    if (st.isSymbolicLink()) entry.target = displayName(binaryName(await readlink(path, { encoding: 'buffer' })));
    else entry.mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isFile()) {
      entry.size = st.size;
      const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
      if (first !== undefined) entry.linkOf = first;
      else {
        if (st.nlink > 1) inodes.set(st.ino, name);
        entry.sha256 = (await sha256File(path)).sha256;
      }
    }
    out[name] = entry;
    if (!st.isDirectory()) return;
    const names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
    for (const child of names) {
      const childName = name === '.' ? displayName(binaryName(child)) : `${name}/${displayName(binaryName(child))}`;
      await visit(Buffer.concat([path, Buffer.from('/'), child]), childName);
    }
  };
  await visit(Buffer.from(root), '.');
  return out;
}

/** Bytes a file takes on disk (a sparse file takes less than its size). */
export async function allocatedBytes(path: string): Promise<number> {
  return (await lstat(path)).blocks * 512;
}
