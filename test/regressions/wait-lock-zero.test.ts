/**
 * Regression (issue #14): `--help` shows `--wait-lock` defaulting to 0, but `--wait-lock 0` was
 * refused as an invalid duration (a duration needs a unit; zero does not).
 */
import { expect } from 'chai';
import { cli } from '../support/profile.js';

describe('regression: --wait-lock 0', function () {
  this.timeout(60_000);

  it('is accepted: the command goes on to read the manifest', async () => {
    const [zero, help] = await Promise.all([cli(['run', '--wait-lock', '0', 'manifests/no-such-manifest.yaml']), cli(['run', '--help'])]);
    expect(help.stdout).to.match(/--wait-lock <duration> [^-]*\(default: 0\)/);
    expect(zero.code).to.equal(2);
    expect(zero.stderr).to.not.include('--wait-lock');
    expect(zero.stderr).to.match(/^cannot read manifest manifests\/no-such-manifest\.yaml: no such file$/m);
  });

  it('a duration without a unit other than 0 is still refused', async () => {
    const r = await cli(['run', '--wait-lock', '10', 'manifests/no-such-manifest.yaml']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("option '--wait-lock <duration>' argument '10' is invalid");
  });
});
