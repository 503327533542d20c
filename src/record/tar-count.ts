/**
 * Regular files and their bytes, counted from a tar stream as it passes on its way to the
 * compressor (PipelineOptions.tap): what an archive holds, for snapshot.json and restore tests,
 * without asking tar for a listing (tar -vv cost about 40 % of the step's CPU).
 *
 * "Regular file" keeps the meaning of the `-` lines of tar's long listing: typeflags '0', '\0'
 * and '7'. Hard links ('1'), symlinks, folders and GNU long-name blocks are not counted.
 */

export interface TarCount {
  files: number;
  bytes: number;
}

export interface TarCounter {
  push(chunk: Buffer): void;
  /** Throws if the stream stopped inside a header or an entry's data. */
  result(): TarCount;
}

const BLOCK = 512;
const SIZE = { at: 124, length: 12 };
const TYPEFLAG = 156;
const MAGIC = { at: 257, text: Buffer.from('ustar') };
const REGULAR = new Set(['0', '\0', '7'].map((c) => c.charCodeAt(0)));
const PAX = 'x'.charCodeAt(0);
/** Headers that describe the entry after them (pax, GNU long name/link, pax global): not entries. */
const META = new Set(['x', 'g', 'L', 'K'].map((c) => c.charCodeAt(0)));

// Hand-written, not node-tar's Parser: on a 290 MB, 200k-file stream the Parser cost 2.1 s of CPU
// (as much as tar -vv), this header walker 0.34 s.
export function tarCounter(): TarCounter {
  return new HeaderWalker();
}

class HeaderWalker implements TarCounter {
  private files = 0;
  private bytes = 0;
  /** Stream offset of the first byte of the chunk being pushed. */
  private offset = 0;
  /** Stream offset of the header being read, for error messages. */
  private at = 0;
  /** A header split across chunks, and how much of it has arrived. */
  private readonly partial = Buffer.alloc(BLOCK);
  private filled = 0;
  /** Bytes of the current entry's data (and padding) still to pass. */
  private skip = 0;
  /** A pax extended header's data, gathered while it passes; its length without padding. */
  private pax?: { chunks: Buffer[]; length: number };
  /** The next entry's size from a pax header, which overrides its header's size field. */
  private nextSize?: number;

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.pax?.chunks.push(Buffer.from(chunk.subarray(pos, pos + n)));
        this.skip -= n;
        pos += n;
        if (this.skip === 0 && this.pax) this.endPax();
      } else if (this.filled === 0 && chunk.length - pos >= BLOCK) {
        this.at = this.offset + pos;
        this.header(chunk, pos);
        pos += BLOCK;
      } else {
        const n = chunk.copy(this.partial, this.filled, pos, Math.min(chunk.length, pos + BLOCK - this.filled));
        this.filled += n;
        pos += n;
        if (this.filled === BLOCK) {
          this.filled = 0;
          this.at = this.offset + pos - BLOCK;
          this.header(this.partial, 0);
        }
      }
    }
    this.offset += chunk.length;
  }

  result(): TarCount {
    if (this.filled !== 0 || this.skip !== 0) throw new Error('the tar stream ended inside an entry');
    return { files: this.files, bytes: this.bytes };
  }

  /** The 512-byte header at buf[at]. */
  private header(buf: Buffer, at: number): void {
    // End of archive: zero blocks, then zero padding up to the record size.
    if (buf[at] === 0 && isZero(buf, at)) return;
    if (buf.compare(MAGIC.text, 0, MAGIC.text.length, at + MAGIC.at, at + MAGIC.at + MAGIC.text.length) !== 0) {
      throw new Error(`not a tar header at byte ${this.at}: the stream is not what GNU tar writes`);
    }
    const type = buf[at + TYPEFLAG]!;
    const size = META.has(type) ? this.sizeField(buf, at) : (this.nextSize ?? this.sizeField(buf, at));
    if (!META.has(type)) this.nextSize = undefined;
    if (REGULAR.has(type)) {
      this.files++;
      this.bytes += size;
    }
    if (type === PAX) this.pax = { chunks: [], length: size };
    this.skip = Math.ceil(size / BLOCK) * BLOCK;
    if (this.skip === 0 && this.pax) this.endPax();
  }

  /** Octal digits, or GNU's base-256 (high bit set) for sizes of 8 GiB and more. */
  private sizeField(buf: Buffer, at: number): number {
    const start = at + SIZE.at;
    const end = start + SIZE.length;
    let n = 0;
    if (buf[start]! & 0x80) {
      if (buf[start] === 0xff) throw new Error(`a negative size in the tar header at byte ${this.at}`);
      n = buf[start]! & 0x7f;
      for (let i = start + 1; i < end; i++) n = n * 256 + buf[i]!;
    } else {
      let i = start;
      while (i < end && buf[i] === 0x20) i++;
      for (; i < end && buf[i] !== 0 && buf[i] !== 0x20; i++) {
        const digit = buf[i]! - 0x30;
        if (digit < 0 || digit > 7) throw new Error(`a size that is not octal in the tar header at byte ${this.at}`);
        n = n * 8 + digit;
      }
    }
    if (!Number.isSafeInteger(n)) throw new Error(`an impossible size in the tar header at byte ${this.at}`);
    return n;
  }

  /** Takes `size=` from the pax records (`LEN key=value\n`) for the entry that follows. */
  private endPax(): void {
    const { chunks, length } = this.pax!;
    this.pax = undefined;
    const text = Buffer.concat(chunks).toString('latin1', 0, length);
    for (let pos = 0; pos < text.length; ) {
      const space = text.indexOf(' ', pos);
      const recordLength = Number(text.slice(pos, space));
      if (space < 0 || !Number.isInteger(recordLength) || recordLength <= space - pos) {
        throw new Error(`a malformed pax header at byte ${this.at}`);
      }
      const record = text.slice(space + 1, pos + recordLength - 1);
      if (record.startsWith('size=')) {
        const size = Number(record.slice(5));
        if (!/^\d+$/.test(record.slice(5)) || !Number.isSafeInteger(size)) throw new Error(`a malformed pax size at byte ${this.at}`);
        this.nextSize = size;
      }
      pos += recordLength;
    }
  }
}

function isZero(buf: Buffer, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}
