/**
 * A snapshot folder's entries, read by GNU find where the folder lies (locally, or by the ssh
 * script `find`): one record per entry, `TYPE MODE SIZE MTIME PATH\0LINK\0`, names kept as bytes
 * (a name may hold a newline; only NUL cannot occur). Parsed as it streams: memory stays bounded.
 */
import { Writable } from 'node:stream';
import { binaryName } from '../../util/names.js';
import type { FolderEntry } from '../types.js';

/** find -printf format: type, octal mode, size, mtime (s.fraction), path under the start, link target. */
export const FIND_FORMAT = '%y %m %s %T@ %P\\0%l\\0';

const KINDS: Record<string, FolderEntry['kind']> = { f: 'file', d: 'directory', l: 'symlink' };

/** A Writable taking find's output and handing each entry to `onEntry`. */
export function findRecords(onEntry: (entry: FolderEntry) => void): Writable {
  let rest: Buffer = Buffer.alloc(0);
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      rest = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      try {
        let at = 0;
        for (;;) {
          const first = rest.indexOf(0, at);
          const second = first < 0 ? -1 : rest.indexOf(0, first + 1);
          if (second < 0) break;
          onEntry(parseRecord(rest.subarray(at, first), rest.subarray(first + 1, second)));
          at = second + 1;
        }
        rest = rest.subarray(at);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    final(done) {
      done(rest.length ? new Error(`find's listing ended inside a record`) : null);
    },
  });
}

function parseRecord(head: Buffer, link: Buffer): FolderEntry {
  // The first four fields hold no spaces; the path is all that follows them.
  let at = 0;
  const fields: string[] = [];
  for (let i = 0; i < 4; i++) {
    const space = head.indexOf(0x20, at);
    if (space < 0) throw new Error(`unexpected find record ${JSON.stringify(head.toString('latin1'))}`);
    fields.push(head.subarray(at, space).toString('latin1'));
    at = space + 1;
  }
  const [type, mode, size, mtime] = fields as [string, string, string, string];
  const kind = KINDS[type] ?? 'other';
  const entry: FolderEntry = { path: binaryName(head.subarray(at)), kind, size: kind === 'file' ? Number(size) : 0, mode: parseInt(mode, 8), mtime: Math.floor(Number(mtime)) };
  if (kind === 'symlink') entry.linkpath = binaryName(link);
  return entry;
}
