import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../src/record/checksums.js';

/** What coreutils says of the bytes, the reference every SHA256SUMS list is checked with. */
function sha256sum(bytes: Buffer): string {
  return execFileSync('sha256sum', ['-'], { input: bytes, encoding: 'utf8' }).slice(0, 64);
}

describe('sha256File', () => {
  let dir: string;
  // More than two of its 1 MiB reads, ending inside the third.
  const content = randomBytes(2 * 1024 * 1024 + 12_345);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backplan-checksums-'));
    writeFileSync(join(dir, 'file'), content);
    writeFileSync(join(dir, 'empty'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes a file read in several pieces as sha256sum does, with its size', async () => {
    expect(await sha256File(join(dir, 'file'))).to.deep.equal({ sha256: sha256sum(content), bytes: content.length });
  });

  it('hashes an empty file', async () => {
    expect(await sha256File(join(dir, 'empty'))).to.deep.equal({ sha256: sha256sum(Buffer.alloc(0)), bytes: 0 });
  });

  it('hashes bytes [start, end) only, across a read boundary and up to the end of the file', async () => {
    for (const [start, end] of [
      [1024 * 1024 - 100, 1024 * 1024 + 100],
      [5, 5],
      [content.length - 10, content.length],
      [0, content.length + 1000],
    ] as const) {
      const expected = content.subarray(start, end);
      expect(await sha256File(join(dir, 'file'), { start, end }), `[${start}, ${end})`).to.deep.equal({ sha256: sha256sum(expected), bytes: expected.length });
    }
  });

  it('rejects a missing file', async () => {
    const error = await sha256File(join(dir, 'missing')).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).to.equal('ENOENT');
  });
});
