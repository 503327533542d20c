import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { repoRoot } from './support/profile.js';
import { startRegistry } from './support/registry.js';
import type { Registry } from './support/registry.js';
import { bashCompletions } from './support/shells.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell: none of the npm_* variables `npm test` sets for its script. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, npm_config_update_notifier: 'false', ...extra };
}

function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: opts.cwd, env: opts.env ?? userEnv(), maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const warnings = (npmStderr: string) => npmStderr.split('\n').filter((l) => /^npm warn/i.test(l));

/** This checkout as a release would start from: the files git has or would add (no dist/), node_modules beside them. */
async function cleanCopy(dest: string): Promise<void> {
  const listed = await run('git', ['-C', repoRoot, 'ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  expect(listed.code, listed.stderr).to.equal(0);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    await mkdir(join(dest, posix.dirname(file)), { recursive: true });
    await cp(join(repoRoot, file), join(dest, file)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // deleted in the working tree, not yet in the index
    });
  }
  await symlink(join(repoRoot, 'node_modules'), join(dest, 'node_modules'));
}

describe('the package: npm pack of a clean checkout, installed with npm install --global', function () {
  this.timeout(300_000);
  let dir: string;
  let tarball: string;
  let files: string[];
  let manifest: { version: string; license: string; scripts: Record<string, string>; dependencies: Record<string, string>; man: string[] };
  let registry: Registry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-package-'));
    const checkout = join(dir, 'checkout');
    await cleanCopy(checkout);
    // Not --ignore-scripts: prepack builds dist/, as at a release.
    const pack = await run('npm', ['pack', '--pack-destination', dir], { cwd: checkout });
    expect(pack.code, pack.stdout + pack.stderr).to.equal(0);
    expect(warnings(pack.stderr), 'npm pack warnings').to.deep.equal([]);
    tarball = join(dir, pack.stdout.trim().split('\n').at(-1)!);
    const listing = await run('tar', ['-tzf', tarball]);
    files = listing.stdout.split('\n').filter((f) => f && !f.endsWith('/')).map((f) => f.replace(/^package\//, ''));
    manifest = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/package.json'])).stdout);
    registry = await startRegistry(await mkdtemp(join(dir, 'registry-')));
  });
  after(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the built CLI, its compiled validator, every man page and the LICENSE; no tests, benchmarks, build scripts or source maps', async () => {
    expect(files).to.include.members(['package.json', 'README.md', 'LICENSE', 'dist/bin/backplan.cjs', 'dist/src/validate/manifest-validator.js', 'dist/src/index.d.ts']);
    expect(files).to.include.members(manifest.man.map((m) => posix.normalize(m)));
    expect(manifest.man).to.include('./dist/man/backplan-restore.1');
    const unexpected = files.filter((f) => !/^(dist\/bin|dist\/src|dist\/man|schemas|docs|manifests|examples)\//.test(f) && !['package.json', 'README.md', 'LICENSE', 'src/errors.ts'].includes(f));
    expect(unexpected, 'files outside what the package is for').to.deep.equal([]);
    expect(files.filter((f) => f.endsWith('.map')), 'source maps, whose sources are not shipped').to.deep.equal([]);
    expect(files.filter((f) => f.endsWith('.cache')), "V8's code cache, which belongs to the node that made it").to.deep.equal([]);
    expect(manifest.license).to.equal('MIT');
    expect((await run('tar', ['-xzOf', tarball, 'package/LICENSE'])).stdout).to.match(/^MIT License\n/);
  });

  it('every relative link of the packed README resolves to a file in the package', async () => {
    const readme = (await run('tar', ['-xzOf', tarball, 'package/README.md'])).stdout;
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(#|[a-z]+:)/.test(l));
    expect(links).to.include.members(['src/errors.ts', 'docs/architecture.md', 'schemas/manifest.schema.json', 'examples/systemd/']);
    const dead = links.filter((link) => {
      const path = posix.normalize(link.replace(/#.*/, '')).replace(/\/$/, '');
      return !files.includes(path) && !files.some((f) => f.startsWith(path + '/'));
    });
    expect(dead, 'dead links in the packed README').to.deep.equal([]);
  });

  it('declares no install script (npm warns about those on every global install), and zx, for benchmarks only, is no dependency', () => {
    const lifecycle = ['preinstall', 'install', 'postinstall', 'prepare'].filter((s) => s in manifest.scripts);
    expect(lifecycle).to.deep.equal([]);
    expect(manifest.scripts.prepack, 'the tarball is built when packed').to.equal('npm run build');
    expect(Object.keys(manifest.dependencies)).not.to.include('zx');
    expect(registry.packages.map((p) => p.replace(/@[^@]+$/, ''))).not.to.include('zx');
  });

  for (const ignoreScripts of [true, false]) {
    it(`installs into a temp prefix ${ignoreScripts ? 'with' : 'without'} --ignore-scripts, npm warning about nothing; backplan --help, --version, man and bash completion work from there`, async () => {
      const prefix = join(dir, ignoreScripts ? 'prefix-ignore-scripts' : 'prefix');
      const args = ['install', '--global', '--prefix', prefix, '--registry', registry.url, '--cache', join(dir, 'npm-cache'), '--no-audit', '--no-fund'];
      const install = await run('npm', [...args, ...(ignoreScripts ? ['--ignore-scripts'] : []), tarball]);
      expect(install.code, install.stderr).to.equal(0);
      expect(warnings(install.stderr), 'npm install warnings').to.deep.equal([]);

      const backplan = join(prefix, 'bin', 'backplan');
      const codeCache = join(prefix, 'lib', 'node_modules', 'backplan', 'dist', 'bin', 'program.cjs.cache');
      expect(existsSync(codeCache), 'a code cache before the first run').to.equal(false);
      const help = await run(backplan, ['--help']);
      expect(help.code, help.stderr).to.equal(0);
      expect(help.stdout).to.match(/^Usage: backplan \[options\] \[command\]/);
      expect(existsSync(codeCache), 'the code cache the first run writes').to.equal(true);
      expect((await run(backplan, ['--version'])).stdout.trim()).to.equal(manifest.version);
      const validate = await run(backplan, ['validate', join(prefix, 'lib', 'node_modules', 'backplan', 'manifests')]);
      expect(validate.code, `the shipped manifests validate with the compiled validator: ${validate.stdout}${validate.stderr}`).to.equal(0);

      // man-db finds PREFIX/share/man from PREFIX/bin on PATH, as for a ~/.local install.
      const { MANPATH: _, ...env } = userEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH}` });
      const page = await run('man', ['-w', 'backplan-restore'], { env });
      expect(page.code, page.stderr).to.equal(0);
      expect(page.stdout.trim().startsWith(prefix + '/'), page.stdout).to.equal(true);

      const script = join(prefix, 'backplan.bash');
      await writeFile(script, (await run(backplan, ['completion', 'bash'])).stdout);
      expect(await bashCompletions(script, ['backplan', 're'])).to.deep.equal(['restore']);
    });
  }
});
