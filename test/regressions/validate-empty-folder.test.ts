/**
 * Regression (issue #14): `backplan validate` of a folder holding no manifest printed
 * "0 manifests valid" and exited 0, so a CI job with a wrong path or glob went green.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../support/profile.js';

describe('regression: validate of a folder without manifests', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-empty-'));
    await mkdir(join(dir, 'manifests'));
    await writeFile(join(dir, 'manifests', 'README.md'), 'manifests go here\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('exits 2 and says which folder held none', async () => {
    const r = await cli(['validate', join(dir, 'manifests')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      `no manifests (*.yaml, *.yml) under ${join(dir, 'manifests')}\n  hint: check the folder or glob given to backplan validate\nno manifest validated\n`,
    );
  });

  it('fails the step beside valid manifests too, with an annotation in --format github', async () => {
    const r = await cli(['validate', '--format', 'github', 'manifests', join(dir, 'manifests')]);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal(`::error::no manifests (*.yaml, *.yml) under ${join(dir, 'manifests')} (check the folder or glob given to backplan validate)\n`);
  });
});
