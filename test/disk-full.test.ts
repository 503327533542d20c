import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './support/profile.js';
import { useDatabase } from './support/pg.js';

/** A 4 MiB tmpfs for the destination; undefined (with the reason printed) where mounting is not allowed. */
function mountSmallFilesystem(dir: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch (e) {
    console.log(`      skipped: cannot mount a small tmpfs here (${(e as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

describe('disk full at the destination', function () {
  this.timeout(120_000);
  const db = useDatabase('diskfull');

  it('fails with exit 1 naming the destination and the space needed, leaving nothing complete-looking', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'backplan-diskfull-'));
    const destination = join(dir, 'dest');
    await mkdir(destination);
    if (!mountSmallFilesystem(destination)) {
      await rm(dir, { recursive: true, force: true });
      return this.skip();
    }
    try {
      const repo = join(dir, 'repo');
      await mkdir(repo);
      // Incompressible data: 12 MiB can never fit in 4 MiB, whatever zstd does.
      for (let i = 0; i < 12; i++) await writeFile(join(repo, `blob-${i}.bin`), randomBytes(1 << 20));
      const manifest = join(dir, 'manifest.yaml');
      const database = { host: db.server.host, port: db.server.port, user: db.server.user, name: db.name };
      await writeFile(manifest, `version: 1\nname: diskfull\nprofile:\n  explicit:\n    repository: ${repo}\n    database: ${JSON.stringify(database)}\ndestination: ${destination}\n`);
      const r = await cli(['run', manifest], { env: { PGPASSWORD: db.server.password ?? '' } });
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`the destination ${destination} is full`);
      expect(r.stderr).to.match(/free at least [\d.]+ MiB at /);
      expect(r.stderr).to.not.match(/^\s+at /m);
      const names = await readdir(destination);
      expect(names.filter((n) => /^\d{4}-.*-(full|incr)$/.test(n))).to.deep.equal([]);
    } finally {
      execFileSync('umount', ['-l', destination]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
