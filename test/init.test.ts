/**
 * `backplan init`: a commented starter manifest that validates as written, through the real CLI
 * in a throwaway HOME. The AiiDA config is found as verdi finds it (AIIDA_PATH, else ~/.aiida),
 * and the manifest it writes resolves to that same profile.
 */
import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODELINE, SCHEMA_FILE } from '../src/commands/schema.js';
import { readManifest } from '../src/validate/read-manifest.js';
import { resolveProfile } from '../src/resolve/resolve.js';
import { cli, repoRoot } from './support/profile.js';

const FIXTURES = join(repoRoot, 'test/fixtures/aiida-config');

describe('backplan init', function () {
  this.timeout(60_000);
  let dir: string;
  let home: string;
  /** The environment of a user with no AIIDA_PATH and this HOME. */
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-init-'));
    home = join(dir, 'home');
    await mkdir(join(home, '.aiida'), { recursive: true });
    env = { HOME: home, AIIDA_PATH: '' };
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('finds ~/.aiida/config.json, writes a commented manifest and the schema beside it; validate passes it as written', async () => {
    await copyFile(join(FIXTURES, 'v2.json'), join(home, '.aiida/config.json'));
    const file = join(dir, 'aiida-main.yaml');
    const r = await cli(['init', file], { env });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include(`wrote ${file} for AiiDA profile main from ${join(home, '.aiida/config.json')}`);
    const text = await readFile(file, 'utf8');
    expect(text.split('\n')[0]).to.equal(MODELINE);
    expect(text.split('\n').filter((l) => /^\s*#/.test(l)).length, 'commented').to.be.at.least(15);
    expect(text).to.include('config: "${AIIDA_PATH:-~}/.aiida/config.json"');
    expect(text).to.include('profile: "main"');
    expect(text).to.include('Other profiles: other.');
    expect(await readFile(join(dir, SCHEMA_FILE), 'utf8')).to.equal(await readFile(join(repoRoot, 'schemas/manifest.schema.json'), 'utf8'));

    const validated = await cli(['validate', file], { env });
    expect(validated.code, validated.stderr).to.equal(0);
    expect(validated.stderr).to.equal('1 manifest valid\n');
    const source = await readManifest(file, { ...process.env, ...env });
    const { profile } = await resolveProfile(source.manifest!, { env: { ...process.env, ...env } });
    expect(profile.aiida).to.deep.include({ configPath: join(home, '.aiida/config.json'), profileName: 'main', aiidaVersion: 2 });
  });

  it('looks through AIIDA_PATH first, as verdi does; --profile picks another profile', async () => {
    const aiidaPath = join(dir, 'project');
    await mkdir(join(aiidaPath, '.aiida'), { recursive: true });
    await copyFile(join(FIXTURES, 'v2.json'), join(aiidaPath, '.aiida/config.json'));
    const r = await cli(['init', '--profile', 'other'], { env: { ...env, AIIDA_PATH: `${join(dir, 'empty')}:${aiidaPath}` } });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('name: aiida-other\n');
    expect(r.stdout).to.include('profile: "other"');
    const file = join(dir, 'other.yaml');
    await writeFile(file, r.stdout);
    const validated = await cli(['validate', file], { env });
    expect(validated.code, validated.stderr).to.equal(0);
  });

  it('--aiida CONFIG names the config; an AiiDA 1.x profile works the same', async () => {
    const r = await cli(['init', '--aiida', join(FIXTURES, 'v1.json')], { env });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`config: ${JSON.stringify(join(FIXTURES, 'v1.json'))}`);
    expect(r.stdout).to.include('the AiiDA 1.x profile');
  });

  it('without an AiiDA config, says where it looked and how to name the paths instead; writes nothing', async () => {
    const file = join(dir, 'nothing.yaml');
    const r = await cli(['init', file], { env });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal(
      `no AiiDA config found (looked at ${join(home, '.aiida/config.json')})\n` +
        '  hint: name it with --aiida CONFIG, or describe the files and database with --explicit --repository DIR --database NAME\n',
    );
    expect(await readFile(file).catch(() => 'absent')).to.equal('absent');
  });

  it('--explicit writes the paths given (a $ kept literal) and validates and plans as written', async () => {
    const file = join(dir, 'dss.yaml');
    const args = ['init', file, '--explicit', '--repository', '/srv/dss/da$ta', '--database', 'dss', '--config', '/srv/dss/config', '--config', '/srv/dss/install.ini', '--port', '5433'];
    const r = await cli(args, { env });
    expect(r.code, r.stderr).to.equal(0);
    const validated = await cli(['validate', file], { env });
    expect(validated.code, validated.stderr).to.equal(0);
    const source = await readManifest(file, env);
    expect(source.manifest!.name).to.equal('da-ta');
    expect(source.manifest!.profile.explicit).to.deep.equal({
      config: ['/srv/dss/config', '/srv/dss/install.ini'],
      repository: '/srv/dss/da$ta',
      layout: 'plain',
      database: { host: 'localhost', port: 5433, name: 'dss' },
    });
    const plan = await cli(['plan', '--offline', file], { env });
    expect(plan.code, plan.stderr).to.equal(0);
  });

  it('never overwrites an existing file', async () => {
    await copyFile(join(FIXTURES, 'v2.json'), join(home, '.aiida/config.json'));
    const file = join(dir, 'mine.yaml');
    await writeFile(file, 'my own manifest\n');
    const r = await cli(['init', file], { env });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} exists; backplan init never overwrites a file\n`));
    expect(await readFile(file, 'utf8')).to.equal('my own manifest\n');
  });
});
