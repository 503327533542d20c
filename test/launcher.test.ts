/**
 * The executable's code cache (src/cli/main.cts): written by a run that found none or found one
 * V8 rejected, left alone otherwise, and never in the way of the command. Run on a copy of
 * dist/bin, so that the build's own cache is not touched.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/profile.js';

function validate(cli: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'validate', join(repoRoot, 'manifests')], (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

describe("the executable's code cache", function () {
  this.timeout(60_000);
  let dir: string;
  let cli: string;
  let cache: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-launcher-'));
    await mkdir(join(dir, 'dist', 'bin'), { recursive: true });
    for (const file of ['backplan.cjs', 'program.cjs']) await copyFile(join(repoRoot, 'dist', 'bin', file), join(dir, 'dist', 'bin', file));
    await copyFile(join(repoRoot, 'package.json'), join(dir, 'package.json'));
    // The compiled validator require()s ajv's runtime helpers at run time.
    await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    cli = join(dir, 'dist', 'bin', 'backplan.cjs');
    cache = join(dir, 'dist', 'bin', 'program.cjs.cache');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is written by a run that found none, and kept by the runs after it', async () => {
    const first = await validate(cli);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stderr).to.match(/^3 manifests valid/);
    const written = await stat(cache);
    expect(written.size).to.be.greaterThan(100_000);

    const second = await validate(cli);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stderr).to.equal(first.stderr);
    // Replaced by a rename when written: the same inode means V8 took it.
    expect((await stat(cache)).ino, 'rewritten: V8 rejected the cache it wrote').to.equal(written.ino);
  });

  it('is replaced when V8 rejects it, and the command runs as without it', async () => {
    await writeFile(cache, Buffer.alloc(4096, 7));
    const before = await stat(cache);
    const run = await validate(cli);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.match(/^3 manifests valid/);
    const after = await stat(cache);
    expect(after.ino).not.to.equal(before.ino);
    expect(after.size).to.be.greaterThan(100_000);
  });
});
