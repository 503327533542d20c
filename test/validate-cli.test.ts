/** The `validate`, `schema` and `plan` commands through the real CLI binary, from the repository root. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const CLI = path.join(ROOT, 'dist/bin/backplan.cjs');
const STACK_LINE = /^\s+at /m;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every CLI call of this file, started together in `before` (a node process costs ~0.5 s of CPU). */
const started = new Map<string, Promise<Result>>();
const backplan = (...args: string[]): Promise<Result> => {
  const key = JSON.stringify(args);
  if (!started.has(key)) started.set(key, spawn(args));
  return started.get(key)!;
};

function spawn(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** The calls the tests below make, so `before` can start them all at once. */
const CALLS = (dir: string, samples: string[]): string[][] => [
  ['validate', ...samples.map((f) => `manifests/${f}`)],
  ['validate', '--format', 'github', 'test/fixtures/invalid/three-mistakes.yaml'],
  ['validate', '--format', 'github', 'test/fixtures/invalid/version-2.yaml'],
  ['validate', '--format', 'github', 'manifests'],
  ['validate', dir],
  ['validate', 'manifests/no-such-manifest.yaml'],
  ['schema'],
  ['plan', 'manifests/no-such-manifest.yaml'],
  ['plan', 'test/fixtures/invalid/three-mistakes.yaml'],
  ['plan', 'manifests/aiida-2x-prod.yaml', '--format', 'yaml'],
  ['--version'],
  ['-V'],
];

const expectNoStack = (r: Result) => {
  expect(r.stderr, 'no stack trace').to.not.match(STACK_LINE);
  expect(r.stderr, 'no internal error').to.not.include('internal error');
};

describe('backplan CLI: validate, schema, plan', function () {
  this.timeout(60_000);
  let dir: string;
  let samples: string[];

  before(async () => {
    samples = (await readdir(path.join(ROOT, 'manifests'))).filter((f) => f.endsWith('.yaml')).sort();
    dir = await mkdtemp(path.join(os.tmpdir(), 'backplan-validate-'));
    await mkdir(path.join(dir, 'prod'));
    await copyFile(path.join(ROOT, 'manifests/aiida-2x-prod.yaml'), path.join(dir, 'aiida-2x-prod.yaml'));
    await copyFile(path.join(ROOT, 'manifests/dss-datadir.yaml'), path.join(dir, 'prod/dss-datadir.yaml'));
    await copyFile(path.join(ROOT, 'test/fixtures/invalid/enum-strategy.yaml'), path.join(dir, 'prod/broken.yml'));
    await copyFile(path.join(ROOT, 'test/fixtures/profiles/dss/install.ini'), path.join(dir, 'install.ini')); // not a manifest
    await Promise.all(CALLS(dir, samples).map((args) => backplan(...args)));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('--version and -V print package.json\'s version alone', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await backplan(flag)).to.deep.equal({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('validate manifests/*.yaml exits 0 and says every sample is valid', async () => {
    expect(samples).to.include.members(['aiida-1x-legacy.yaml', 'aiida-2x-prod.yaml', 'dss-datadir.yaml']);
    const r = await backplan('validate', ...samples.map((f) => `manifests/${f}`));
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal(`${samples.length} manifests valid\n`);
    expect(r.stdout).to.equal('');
  });

  it('validate --format github prints one ::error annotation per mistake on stdout', async () => {
    const r = await backplan('validate', '--format', 'github', 'test/fixtures/invalid/three-mistakes.yaml');
    expect(r.code).to.equal(2);
    expectNoStack(r);
    const file = 'test/fixtures/invalid/three-mistakes.yaml';
    expect(r.stdout.split('\n').filter(Boolean)).to.deep.equal([
      `::error file=${file},line=11,col=16::database.compression must be one of: zstd, gzip, none (got "lz4")`,
      `::error file=${file},line=15,col=16::repository.incremental.fullEvery must be a duration such as 30d, 12h, 5m or 1h30m (got "1 month")`,
      `::error file=${file},line=19,col=3::unknown key "keep_monthly" in retention; allowed keys: keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly`,
    ]);
    expect(r.stderr).to.equal('1 manifest: 1 invalid, 3 error(s)\n');
  });

  it('validate --format github folds the hint into the annotation', async () => {
    const r = await backplan('validate', '--format', 'github', 'test/fixtures/invalid/version-2.yaml');
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal(
      '::error file=test/fixtures/invalid/version-2.yaml,line=2,col=10::unsupported manifest version 2; this backplan knows version 1 (write `version: 1`)\n',
    );
  });

  it('validate --format github on valid manifests prints nothing on stdout and exits 0', async () => {
    const r = await backplan('validate', '--format', 'github', 'manifests');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
  });

  it('validate on a folder checks the manifests under it, prints the bad one positioned and exits 2', async () => {
    const r = await backplan('validate', dir);
    expect(r.code).to.equal(2);
    expectNoStack(r);
    expect(r.stderr).to.equal(
      `${path.join(dir, 'prod/broken.yml')}:9:13: repository.strategy must be one of: tar, rsync, incremental (got "borg")\n` +
        '3 manifests: 1 invalid, 1 error(s)\n',
    );
  });

  it('validate on a missing file exits 2 without a stack', async () => {
    const r = await backplan('validate', 'manifests/no-such-manifest.yaml');
    expect(r.code).to.equal(2);
    expectNoStack(r);
    expect(r.stderr).to.include('cannot read manifest manifests/no-such-manifest.yaml: no such file');
  });

  it('schema prints JSON equal to schemas/manifest.schema.json', async () => {
    const r = await backplan('schema');
    expect(r.code, r.stderr).to.equal(0);
    const onDisk = JSON.parse(await readFile(path.join(ROOT, 'schemas/manifest.schema.json'), 'utf8'));
    expect(JSON.parse(r.stdout)).to.deep.equal(onDisk);
  });

  it('plan on a non-existent file exits 2 without a stack', async () => {
    const r = await backplan('plan', 'manifests/no-such-manifest.yaml');
    expect(r.code).to.equal(2);
    expectNoStack(r);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^cannot read manifest manifests\/no-such-manifest\.yaml: no such file$/m);
  });

  it('plan on an invalid manifest prints every mistake positioned and exits 2 before touching the profile', async () => {
    const r = await backplan('plan', 'test/fixtures/invalid/three-mistakes.yaml');
    expect(r.code).to.equal(2);
    expectNoStack(r);
    expect(r.stdout).to.equal('');
    const positioned = r.stderr.split('\n').filter((l) => /^test\/fixtures\/invalid\/three-mistakes\.yaml:\d+:\d+: /.test(l));
    expect(positioned).to.have.length(3);
  });

  it('a usage mistake exits 2 without a stack', async () => {
    const r = await backplan('plan', 'manifests/aiida-2x-prod.yaml', '--format', 'yaml');
    expect(r.code).to.equal(2);
    expectNoStack(r);
  });
});
