/**
 * record/tar-headers.ts against GNU tar's own listing of the same archives: every entry's name
 * (as bytes), kind, size, mode, mtime and link target, in gnu, posix and oldgnu formats, with
 * names that are not UTF-8, long names and links, hard links and a sparse file with extension
 * blocks; pushed in every chunking.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarReader } from '../src/record/tar-headers.js';
import type { TarEntry } from '../src/record/tar-headers.js';
import { binaryName } from '../src/util/names.js';

function entries(archive: Buffer, piece: number): TarEntry[] {
  const out: TarEntry[] = [];
  const reader = tarReader((e) => out.push(e));
  for (let pos = 0; pos < archive.length; pos += piece) reader.push(archive.subarray(pos, pos + piece));
  reader.end();
  return out;
}

/**
 * GNU tar's verbose listing, names unquoted (--quoting-style=literal) and read as bytes:
 * `MODE OWNER SIZE DATE TIME NAME[ -> TARGET | link to TARGET]`, with --full-time and UTC.
 * Columns are padded to the widest value seen so far: a pax archive's times carry nanoseconds
 * without trailing zeros, so a shorter one is followed by more than one space.
 */
function gnuListing(path: string): { path: string; kind: string; size: number; mode: number; mtime: number; linkpath?: string }[] {
  const out = execFileSync('tar', ['--list', '--verbose', '--full-time', '--numeric-owner', '--quoting-style=literal', '--file', path], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  return binaryName(out)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S)(\S{9}) \S+\s+(\d+) +(\S+ \S+) +(.*)$/.exec(line)!;
      const [, type, perms, size, when, rest] = m as unknown as string[];
      const kind = { '-': 'file', d: 'directory', l: 'symlink', h: 'hardlink' }[type!]!;
      const [name, linkpath] = kind === 'symlink' ? rest!.split(' -> ') : kind === 'hardlink' ? rest!.split(' link to ') : [rest, undefined];
      return { path: name!, kind, size: kind === 'file' ? Number(size) : 0, mode: modeOf(perms!), mtime: Math.floor(Date.parse(`${when!.replace(" ", "T")}Z`) / 1000), ...(linkpath ? { linkpath } : {}) };
    });
}

function modeOf(perms: string): number {
  return [...perms].reduce((mode, c, i) => (c === '-' ? mode : mode | (1 << (8 - i))), 0);
}

describe('tar-headers: entries read from the bytes, as GNU tar lists them', function () {
  let tmp: string;
  let tree: string;

  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'backplan-tar-headers-'));
    tree = join(tmp, 'tree');
    mkdirSync(join(tree, 'd', 'n'.repeat(70), 'm'.repeat(70)), { recursive: true });
    writeFileSync(Buffer.from(`${tree}/caf\xe9.txt`, 'latin1'), 'not utf-8');
    writeFileSync(join(tree, 'ünïcode.txt'), 'utf-8');
    // A time of half a second: in a pax listing, "…:41.5" then padded to the longer ones.
    utimesSync(join(tree, 'ünïcode.txt'), 1796194961.5, 1796194961.5);
    writeFileSync(join(tree, 'd', 'n'.repeat(70), 'm'.repeat(70), 'long.txt'), randomBytes(700));
    writeFileSync(join(tree, 'exec.sh'), '#!/bin/sh\n', { mode: 0o750 });
    symlinkSync('/etc/passwd', join(tree, 'abs'));
    symlinkSync('t'.repeat(150), join(tree, 'long-target'));
    linkSync(join(tree, 'exec.sh'), join(tree, 'hard'));
    const sparse = openSync(join(tree, 'sparse'), 'w');
    for (let i = 0; i < 9; i++) writeSync(sparse, randomBytes(100), 0, 100, i * (1 << 20));
    closeSync(sparse);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const format of ['gnu', 'posix', 'oldgnu']) {
    it(`reads ${format} archives: names as bytes, kinds, sizes, modes, times, link targets, sparse files`, () => {
      const archive = join(tmp, `${format}.tar`);
      execFileSync('tar', ['--create', `--format=${format}`, '--sparse', '--file', archive, '--directory', tree, '.']);
      const want = gnuListing(archive);
      const bytes = readFileSync(archive);
      for (const piece of [bytes.length, 512, 1000, 7]) {
        const got = entries(bytes, piece).map(({ path, kind, size, mode, mtime, linkpath }) => ({ path, kind, size, mode, mtime, ...(linkpath ? { linkpath } : {}) }));
        expect(got).to.deep.equal(want);
      }
      const names = entries(bytes, bytes.length).map((e) => e.path);
      expect(names).to.include('./caf\xe9.txt');
      expect(entries(bytes, bytes.length).find((e) => e.path === './sparse')?.sparse).to.equal(true);
    });
  }

  it('refuses a stream that ends inside an entry or is not tar', () => {
    const archive = join(tmp, 'cut.tar');
    execFileSync('tar', ['--create', '--file', archive, '--directory', tree, '.']);
    expect(() => entries(readFileSync(archive).subarray(0, 1536), 512)).to.throw(/ended inside an entry/);
    expect(() => entries(randomBytes(1024), 512)).to.throw(/not a tar header/);
  });
});
