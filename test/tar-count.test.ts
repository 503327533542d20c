import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarCounter } from '../src/record/tar-count.js';
import type { TarCount } from '../src/record/tar-count.js';

const GiB = 2 ** 30;

/** Counts `archive` pushed in pieces of the given sizes (cycled). */
function count(archive: Buffer, pieces: number[] = [archive.length]): TarCount {
  const counter = tarCounter();
  for (let pos = 0, i = 0; pos < archive.length; i++) {
    const n = pieces[i % pieces.length]!;
    counter.push(archive.subarray(pos, pos + n));
    pos += n;
  }
  return counter.result();
}

/** What the old step counted: the `-` lines of GNU tar's own long listing, and their sizes. */
function gnuListing(path: string): TarCount {
  const lines = execFileSync('tar', ['--list', '--verbose', '--verbose', '--file', path], { encoding: 'utf8' }).split('\n');
  const regular = lines.filter((line) => line.startsWith('-'));
  return { files: regular.length, bytes: regular.reduce((sum, line) => sum + Number(line.split(/\s+/)[2]), 0) };
}

/** A ustar header with a correct checksum; `size` is written as is (octal text or base-256 bytes). */
function header(name: string, type: string, size: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  size.copy(h, 124);
  h.write('14733000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const octal = (n: number) => Buffer.from(`${n.toString(8).padStart(11, '0')}\0`, 'latin1');

/** GNU base-256: 0x80, then the value big-endian in the other 11 bytes. */
function base256(n: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x80;
  for (let i = 11, v = n; i > 0; i--, v = Math.floor(v / 256)) b[i] = v % 256;
  return b;
}

/** A pax record `LEN key=value\n`, LEN counting itself. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let length = rest.length + 1;
  while (String(length).length + rest.length !== length) length++;
  return `${length}${rest}`;
}

const padded = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
const END = Buffer.alloc(1024);

describe('tar-count: regular files and bytes from a tar stream', function () {
  let tmp: string;
  let tree: string;

  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'backplan-tar-count-'));
    tree = join(tmp, 'tree');
    const long = join(tree, 'd', 'n'.repeat(60), 'm'.repeat(60));
    mkdirSync(long, { recursive: true });
    writeFileSync(join(tree, 'a.txt'), 'hello');
    writeFileSync(join(tree, 'empty'), '');
    writeFileSync(join(tree, 'block'), randomBytes(512));
    writeFileSync(join(tree, 'block+1'), randomBytes(513));
    writeFileSync(join(tree, 'big'), randomBytes(100_000));
    writeFileSync(join(long, `${'x'.repeat(120)}.dat`), randomBytes(1000));
    linkSync(join(tree, 'a.txt'), join(tree, 'd', 'hard'));
    symlinkSync('a.txt', join(tree, 'sym'));
  });

  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const format of ['gnu', 'posix', 'oldgnu']) {
    it(`counts an archive GNU tar wrote in ${format} format as its long listing does, in any chunking`, function () {
      const path = join(tmp, `${format}.tar`);
      execFileSync('tar', ['--create', `--format=${format}`, '--file', path, '--directory', tree, '.']);
      const archive = readFileSync(path);
      // Six regular files; the hard link, the symlink and the folders are not counted.
      const expected = { files: 6, bytes: 5 + 512 + 513 + 100_000 + 1000 };
      expect(gnuListing(path)).to.deep.equal(expected);
      for (const pieces of [[archive.length], [1], [511], [512], [513], [7, 1024, 100, 65536, 3]]) {
        expect(count(archive, pieces), `pieces ${pieces.join(',')}`).to.deep.equal(expected);
      }
    });
  }

  it('counts an empty archive as nothing', function () {
    const archive = execFileSync('tar', ['--create', '--file=-', '--files-from=/dev/null']);
    expect(count(archive)).to.deep.equal({ files: 0, bytes: 0 });
  });

  it('reads a base-256 size field, as GNU tar does', function () {
    const data = padded(randomBytes(1000));
    const archive = Buffer.concat([header('small', '0', base256(1000)), data, END]);
    const path = join(tmp, 'base256.tar');
    writeFileSync(path, archive);
    expect(gnuListing(path)).to.deep.equal({ files: 1, bytes: 1000 });
    expect(count(archive)).to.deep.equal({ files: 1, bytes: 1000 });
  });

  it('skips the data of a file over 8 GiB sized in base-256, counting the entries after it', function () {
    const size = 8 * GiB + 1;
    const counter = tarCounter();
    counter.push(header('huge', '0', base256(size)));
    const zeros = Buffer.alloc(64 * 2 ** 20);
    let left = Math.ceil(size / 512) * 512;
    for (; left >= zeros.length; left -= zeros.length) counter.push(zeros);
    counter.push(zeros.subarray(0, left));
    counter.push(Buffer.concat([header('after', '0', octal(3)), padded(Buffer.from('abc')), END]));
    expect(counter.result()).to.deep.equal({ files: 2, bytes: size + 3 });
  });

  it("takes a file's size from a pax header's size= record", function () {
    const pax = Buffer.from(paxRecord('path', 'p'.repeat(150)) + paxRecord('size', '1000'));
    const archive = Buffer.concat([
      header('PaxHeader/p', 'x', octal(pax.length)),
      padded(pax),
      header('p', '0', octal(0)),
      padded(randomBytes(1000)),
      header('next', '0', octal(5)),
      padded(Buffer.from('hello')),
      END,
    ]);
    const path = join(tmp, 'pax-size.tar');
    writeFileSync(path, archive);
    expect(gnuListing(path)).to.deep.equal({ files: 2, bytes: 1005 });
    for (const pieces of [[archive.length], [1], [100]]) expect(count(archive, pieces)).to.deep.equal({ files: 2, bytes: 1005 });
  });

  it('refuses a stream that is not a tar archive', function () {
    expect(() => count(Buffer.from('not a tar archive\n'.repeat(100)))).to.throw(/not a tar header at byte 0/);
    const archive = Buffer.concat([header('a', '0', octal(5)), padded(Buffer.from('hello')), Buffer.alloc(512, 'z')]);
    expect(() => count(archive)).to.throw(/not a tar header at byte 1024/);
    expect(() => count(Buffer.concat([header('a', '0', Buffer.from('12345678912x')), END]))).to.throw(/not octal/);
  });

  it('refuses a stream that ends inside an entry', function () {
    const archive = Buffer.concat([header('a', '0', octal(5000)), randomBytes(1000)]);
    expect(() => count(archive)).to.throw(/ended inside an entry/);
    expect(() => count(header('a', '0', octal(5)).subarray(0, 300))).to.throw(/ended inside an entry/);
  });
});
