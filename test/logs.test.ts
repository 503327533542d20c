/**
 * What `backplan run` prints without a terminal (cron, systemd, CI): a progress line at a steady
 * interval while a step runs, what hooks print, and less or more with --quiet / --verbose.
 */
import { expect } from 'chai';
import { writeManifest } from './support/manifests.js';
import { cli, useProfile } from './support/profile.js';

const STAMP = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';

describe('run output without a terminal', function () {
  this.timeout(120_000);
  const p = useProfile('logs', { nodes: 5 });

  it('prints a progress line for a long step at the interval asked for, and what hooks print', async () => {
    const file = await writeManifest(p, 'slow.yaml', 'repository: { strategy: tar }\nhooks:\n  before: [{ run: [sh, -c, "echo warming up; sleep 4.5"] }]');
    const r = await cli(['run', file, '--progress-every', '1s']);
    expect(r.code, r.stderr).to.equal(0);
    const progress = r.stderr.split('\n').filter((l) => new RegExp(`^${STAMP} before-1 +\\d`).test(l));
    expect(progress.length, r.stderr).to.be.within(2, 5);
    expect(r.stderr).to.match(new RegExp(`^${STAMP} before-1: warming up$`, 'm'));
  });

  it('--quiet says only how the run ended; --verbose adds what each step notes', async () => {
    const file = await writeManifest(p, 'hello.yaml', 'repository: { strategy: tar }\nhooks:\n  before: [{ run: [echo, hello from the hook] }]');
    const quiet = await cli(['run', file, '--quiet']);
    expect(quiet.code, quiet.stderr).to.equal(0);
    expect(quiet.stderr.trim().split('\n')).to.have.length(1);
    expect(quiet.stderr).to.match(/run ok in /);
    expect(quiet.stdout).to.equal('');
    const normal = await cli(['run', file]);
    expect(normal.stderr).to.contain('before-1: hello from the hook').and.not.contain('artefact(s) match their checksums');
    const verbose = await cli(['run', file, '--verbose']);
    expect(verbose.stderr).to.match(/verify: \d+ artefact\(s\) match their checksums/);
  });
});
