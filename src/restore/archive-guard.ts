/**
 * Decides whether an archive can be unpacked under a root without anything landing outside it.
 * Symlinks are recreated as they were, wherever they point (as tar, rsync and borg do): what is
 * refused is an entry whose own path leaves the root, one written through a symlink, and a hard
 * link to outside. Entries are fed in archive order; hard links are judged at the end, against
 * every symlink of the archive, because one may lean on a symlink that comes later.
 *
 * Paths are binary strings (util/names.ts): compared as the bytes they are.
 *
 * Only symlinks and hard links are kept in memory: a repository of millions of files costs
 * nothing here. Entries under a symlink are judged as they come, which matches extraction
 * order: an entry written before a symlink replaces its folder went into a real folder.
 */
import { BackplanError } from '../errors.js';
import type { TarEntryKind } from '../record/tar-headers.js';
import { displayName } from '../util/names.js';

export interface ArchiveEntry {
  path: string;
  kind: TarEntryKind;
  /** Symlink target, or for a hard link the archive path it links to. */
  linkpath?: string;
  /** The header's type flag, for messages about unsupported entries. */
  typeflag?: string;
}

/** Tar type flags of what a repository never holds. */
const SPECIAL: Record<string, string> = { '3': 'character device', '4': 'block device', '6': 'FIFO' };

/** An empty, `.` or `..` component (the empty path too). */
const IRREGULAR_COMPONENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Symlinks followed while resolving one path before it counts as a loop. */
const MAX_LINK_HOPS = 40;

export class ArchiveGuard {
  /** Symlink path → its target, and the archive it came from (for messages). */
  private readonly symlinks = new Map<string, string>();
  private readonly hardlinks: { path: string; linkpath: string; source: string }[] = [];

  /** @param source names the archive or folder in messages; set it when moving on to the next archive. */
  constructor(public source: string) {}

  /** Throws UNSAFE_ARCHIVE for an entry that is unsafe in itself or written through a symlink. */
  add(entry: ArchiveEntry): void {
    if (entry.kind === 'other') this.refuse(entry, `is a ${SPECIAL[entry.typeflag ?? ''] ?? `special entry (type ${JSON.stringify(entry.typeflag)})`}, which a repository never holds`);
    const key = this.key(entry, entry.path, 'has');
    if (key === '' && entry.kind !== 'directory') this.refuse(entry, 'would replace the target folder itself');
    // Repositories rarely hold symlinks: then nothing needs looking up.
    if (this.symlinks.size > 0) this.checkSymlinks(entry, key);
    if (entry.kind === 'symlink') {
      const target = entry.linkpath ?? '';
      if (target === '') this.refuse(entry, 'is a symlink without a target');
      this.symlinks.set(key, target);
    }
    if (entry.kind === 'hardlink') {
      const target = this.key(entry, entry.linkpath ?? '', 'links to');
      if (target === '') this.refuse(entry, 'is a hard link without a target');
      this.hardlinks.push({ path: key, linkpath: target, source: this.source });
    }
  }

  /** Refuses an entry under one of the archive's symlinks so far, or over one. */
  private checkSymlinks(entry: ArchiveEntry, key: string): void {
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      const prefix = key.slice(0, slash);
      if (this.symlinks.has(prefix)) this.refuse(entry, `would be written through the symlink ${displayName(prefix)}`);
    }
    // Whether extraction would follow or replace the earlier symlink depends on the entry type.
    if (this.symlinks.has(key)) this.refuse(entry, 'comes a second time, over a symlink');
  }

  /** Once every entry is in: every hard link must resolve inside the root. */
  finish(): void {
    for (const { path, linkpath, source } of this.hardlinks) {
      if (!this.resolvesInside(linkpath.split('/'))) this.refuse({ path, kind: 'hardlink' }, `is a hard link to ${displayName(linkpath)}, which leads outside the target`, source);
    }
  }

  /**
   * A path's components joined by `/` (`./a//b/` is `a/b`, the root is ''); an absolute path or a
   * `..` component is refused outright. What tar writes (`./a/b`, `./a/`) is read without
   * splitting: on 200k entries the split made up a quarter of the listing pass.
   */
  private key(entry: ArchiveEntry, path: string, verb: 'has' | 'links to'): string {
    if (path.startsWith('/')) this.refuse(entry, `${verb} an absolute path (${displayName(path)})`);
    const start = path.startsWith('./') ? 2 : 0;
    const end = path.endsWith('/') && path.length > start ? path.length - 1 : path.length;
    const inner = path.slice(start, end);
    if (!IRREGULAR_COMPONENT.test(inner)) return inner;
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) this.refuse(entry, `${verb} a path containing .. (${displayName(path)})`);
    return parts.join('/');
  }

  /**
   * Resolves a path below the root as the kernel would, expanding the archive's symlinks on the
   * way (a symlink to `.` followed by `..` leaves the root even though the text never does).
   */
  private resolvesInside(parts: string[]): boolean {
    const out: string[] = [];
    const queue = [...parts];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (out.length === 0) return false;
        out.pop();
        continue;
      }
      out.push(part);
      const target = this.symlinks.get(out.join('/'));
      if (target === undefined) continue;
      if (++hops > MAX_LINK_HOPS || target.startsWith('/')) return false;
      out.pop();
      queue.unshift(...target.split('/'));
    }
    return true;
  }

  private refuse(entry: ArchiveEntry, why: string, source = this.source): never {
    throw new BackplanError('UNSAFE_ARCHIVE', `${source}: entry "${displayName(entry.path)}" ${why}; refusing to restore`, {
      hint: 'if the repository itself held such an entry and you trust the archive, extract it by hand; otherwise the archive was altered: restore another snapshot',
    });
  }
}
