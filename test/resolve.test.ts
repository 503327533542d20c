import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackplanError, formatError } from '../src/errors.js';
import type { SourcePos } from '../src/errors.js';
import type { AiidaProfileSpec, ExplicitProfileSpec, Manifest } from '../src/manifest.js';
import { resolveProfile, singleProfileConfig } from '../src/resolve/resolve.js';
import type { PositionOf } from '../src/resolve/resolve.js';

// Tests run from dist/test, fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/aiida-config/', import.meta.url));
const fixture = (name: string) => path.join(FIXTURES, name);
const PASSWORDS = ['pw-main-9f3k2', 'pw-legacy-7h2m1', 'pw-broken-5x8q0'];

function manifest(profile: Manifest['profile']): Manifest {
  return { version: 1, name: 'test', profile, destination: '/nonexistent/backplan-dest' };
}
const aiida = (spec: AiidaProfileSpec) => manifest({ aiida: spec });
const explicit = (spec: ExplicitProfileSpec) => manifest({ explicit: spec });

/** A distinct, recognisable position for every manifest path. */
const positionOf: PositionOf = (p) => ({ file: 'backplan.yaml', line: p.length, col: p.join('.').length });

async function rejection(promise: Promise<unknown>): Promise<BackplanError> {
  try {
    await promise;
  } catch (e) {
    expect(e).to.be.instanceOf(BackplanError);
    expect((e as BackplanError).code).to.equal('PROFILE');
    return e as BackplanError;
  }
  expect.fail('expected a PROFILE error');
}

describe('resolveProfile', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'backplan-resolve-'));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** Puts a fixture at `<tmp>/<rel>` and returns its path. */
  async function place(name: string, rel: string): Promise<string> {
    const target = path.join(tmp, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(fixture(name), target);
    return target;
  }

  /** Writes v2.json with the `main` profile edited, for the error cases. */
  async function editedV2(edit: (main: Record<string, any>) => void): Promise<string> {
    const config = JSON.parse(await readFile(fixture('v2.json'), 'utf8'));
    edit(config.profiles.main);
    const file = path.join(tmp, 'edited.json');
    await writeFile(file, JSON.stringify(config));
    return file;
  }

  describe('AiiDA 2.x', () => {
    it('reads the default profile', async () => {
      const { profile, secrets } = await resolveProfile(aiida({ config: fixture('v2.json') }), { env: {} });
      expect(profile).to.deep.equal({
        kind: 'aiida',
        configPaths: [],
        aiida: { configPath: fixture('v2.json'), profileName: 'main', aiidaVersion: 2 },
        repository: { path: '/nonexistent/backplan-fixture/repository/main', layout: 'disk-objectstore' },
        database: { host: 'localhost', port: 5432, name: 'aiida_main', user: 'aiida' },
      });
      expect(secrets).to.deep.equal({ pgPassword: 'pw-main-9f3k2' });
    });

    it('reads a named profile, decoding its repository URI', async () => {
      const { profile, secrets } = await resolveProfile(aiida({ config: fixture('v2.json'), profile: 'other' }), {
        env: {},
      });
      expect(profile.aiida?.profileName).to.equal('other');
      expect(profile.database).to.deep.equal({ host: 'db.example.org', port: 5433, name: 'aiida_other', user: 'aiida_other' });
      expect(profile.repository.path).to.equal('/nonexistent/backplan fixture/repository/other');
      expect(secrets.pgPassword, 'an empty config password is no password').to.equal(undefined);
    });

    it('names the existing profiles when the requested one is missing', async () => {
      const e = await rejection(
        resolveProfile(aiida({ config: fixture('v2.json'), profile: 'nope' }), { positionOf, env: {} }),
      );
      expect(e.message).to.contain('"nope"').and.contain('main, other').and.contain(fixture('v2.json'));
      expect(e.pos).to.deep.equal(positionOf(['profile', 'aiida', 'profile']));
    });

    it('refuses a non-PostgreSQL storage backend', async () => {
      // As for a manifest without a `profile` key: the error then points at `config`.
      const noProfileKey: PositionOf = (p) => (p.at(-1) === 'profile' ? undefined : positionOf(p));
      const e = await rejection(
        resolveProfile(aiida({ config: fixture('sqlite.json') }), { positionOf: noProfileKey, env: {} }),
      );
      expect(e.message).to.contain('core.sqlite_dos').and.contain('PostgreSQL');
      expect(e.details.hint).to.contain('profile.explicit');
      expect(e.pos).to.deep.equal(positionOf(['profile', 'aiida', 'config']));
    });

    it('names a missing required key and the config file', async () => {
      const file = await editedV2((main) => delete main.storage.config.database_username);
      const e = await rejection(resolveProfile(aiida({ config: file }), { env: {} }));
      expect(e.message).to.contain('storage.config.database_username').and.contain(file);
    });

    it('refuses a repository URI that is not a local file URI', async () => {
      const file = await editedV2((main) => (main.storage.config.repository_uri = 's3://bucket/repo'));
      const e = await rejection(resolveProfile(aiida({ config: file }), { env: {} }));
      expect(e.message).to.contain('repository_uri');
    });
  });

  describe('AiiDA 1.x', () => {
    it('reads AIIDADB_* keys', async () => {
      const { profile, secrets } = await resolveProfile(aiida({ config: fixture('v1.json') }), { env: {} });
      expect(profile.aiida).to.deep.equal({ configPath: fixture('v1.json'), profileName: 'legacy', aiidaVersion: 1 });
      expect(profile.repository).to.deep.equal({
        path: '/nonexistent/backplan-fixture/repository-legacy',
        layout: 'aiida-1',
      });
      expect(profile.database).to.deep.equal({ host: 'localhost', port: 5434, name: 'aiida_legacy', user: 'aiida' });
      expect(secrets.pgPassword).to.equal('pw-legacy-7h2m1');
    });

    it('refuses an unknown AIIDADB_BACKEND', async () => {
      const config = JSON.parse(await readFile(fixture('v1.json'), 'utf8'));
      config.profiles.legacy.AIIDADB_BACKEND = 'mysql';
      const file = path.join(tmp, 'config.json');
      await writeFile(file, JSON.stringify(config));
      const e = await rejection(resolveProfile(aiida({ config: file }), { env: {} }));
      expect(e.message).to.contain('"mysql"').and.contain('django');
    });
  });

  describe('secrets', () => {
    it('prefers PGPASSWORD over the config password', async () => {
      const { secrets } = await resolveProfile(aiida({ config: fixture('v2.json') }), { env: { PGPASSWORD: 'from-env' } });
      expect(secrets.pgPassword).to.equal('from-env');
    });

    it('treats an empty PGPASSWORD as unset', async () => {
      const { secrets } = await resolveProfile(aiida({ config: fixture('v2.json') }), { env: { PGPASSWORD: '' } });
      expect(secrets.pgPassword).to.equal('pw-main-9f3k2');
    });
  });

  describe('finding config.json', () => {
    it('expands ~ from HOME', async () => {
      await place('v2.json', 'home/.aiida/config.json');
      const env = { HOME: path.join(tmp, 'home') };
      const { profile } = await resolveProfile(aiida({ config: '~/.aiida/config.json' }), { env });
      expect(profile.aiida?.configPath).to.equal(path.join(tmp, 'home/.aiida/config.json'));
      const bare = await resolveProfile(aiida({ config: '~' }), { env });
      expect(bare.profile.aiida?.configPath, '~ alone is the home folder').to.equal(profile.aiida?.configPath);
    });

    it('resolves a relative path against the working directory', async () => {
      const { profile } = await resolveProfile(aiida({ config: path.relative(process.cwd(), fixture('v1.json')) }), {
        env: {},
      });
      expect(profile.aiida?.configPath).to.equal(fixture('v1.json'));
    });

    it('accepts a folder holding .aiida/config.json or config.json', async () => {
      const nested = await place('v2.json', 'a/.aiida/config.json');
      await place('v1.json', 'a/config.json');
      const flat = await place('v1.json', 'b/config.json');
      const a = await resolveProfile(aiida({ config: path.join(tmp, 'a') }), { env: {} });
      const b = await resolveProfile(aiida({ config: path.join(tmp, 'b') }), { env: {} });
      expect(a.profile.aiida?.configPath, '.aiida/ first').to.equal(nested);
      expect(b.profile.aiida?.configPath).to.equal(flat);
    });

    it('tries each entry of a colon-separated AIIDA_PATH in order', async () => {
      const second = await place('v1.json', 'second/.aiida/config.json');
      const third = await place('v2.json', 'third/.aiida/config.json');
      const missing = path.join(tmp, 'missing');
      const first = await resolveProfile(aiida({ config: `${missing}:${tmp}/second:${tmp}/third/.aiida/config.json` }), {
        env: {},
      });
      expect(first.profile.aiida?.configPath).to.equal(second);
      const last = await resolveProfile(aiida({ config: `${missing}::${tmp}/third/.aiida/config.json` }), { env: {} });
      expect(last.profile.aiida?.configPath).to.equal(third);
    });

    it('expands ~ inside a colon-separated list', async () => {
      const home = await place('v2.json', 'home/.aiida/config.json');
      const config = `${tmp}/missing:~/.aiida/config.json`;
      const { profile } = await resolveProfile(aiida({ config }), { env: { HOME: path.join(tmp, 'home') } });
      expect(profile.aiida?.configPath).to.equal(home);
    });

    it('says where it looked when nothing is found', async () => {
      const config = `${tmp}/x:${tmp}/y/.aiida/config.json`;
      const e = await rejection(resolveProfile(aiida({ config }), { positionOf, env: {} }));
      expect(e.message).to.contain(`${tmp}/x/.aiida/config.json`).and.contain(`${tmp}/y/.aiida/config.json`);
      expect(e.pos).to.deep.equal(positionOf(['profile', 'aiida', 'config']));
    });

    it('reports broken JSON with the file and the line', async () => {
      const e = await rejection(resolveProfile(aiida({ config: fixture('broken.json') }), { positionOf, env: {} }));
      expect(e.message).to.contain(fixture('broken.json')).and.contain('not valid JSON');
      expect(e.pos).to.deep.equal(positionOf(['profile', 'aiida', 'config']));
      const trailing = path.join(tmp, 'trailing.json');
      await writeFile(trailing, '{\n  "profiles": {},\n}');
      const e2 = await rejection(resolveProfile(aiida({ config: trailing }), { env: {} }));
      expect(e2.message).to.contain('line 3, column 1');
    });
  });

  describe('explicit profiles', () => {
    it('resolves paths and fills in defaults', async () => {
      const ini = await place('v1.json', 'dss/install.ini');
      await mkdir(path.join(tmp, 'dss/config'));
      await mkdir(path.join(tmp, 'dss/data'));
      const spec: ExplicitProfileSpec = {
        config: ['~/config', ini],
        repository: '~/data',
        database: { name: 'dss' },
      };
      const { profile, secrets } = await resolveProfile(explicit(spec), {
        env: { HOME: path.join(tmp, 'dss'), PGUSER: 'dssuser' },
      });
      expect(profile).to.deep.equal({
        kind: 'explicit',
        configPaths: [path.join(tmp, 'dss/config'), ini],
        repository: { path: path.join(tmp, 'dss/data'), layout: 'plain' },
        database: { host: 'localhost', port: 5432, name: 'dss', user: 'dssuser' },
      });
      expect(secrets).to.deep.equal({ pgPassword: undefined });
    });

    it('defaults the user to the login name and takes PGPASSWORD', async () => {
      const spec: ExplicitProfileSpec = { repository: tmp, layout: 'aiida-1', database: { name: 'db', port: 6543 } };
      const { profile, secrets } = await resolveProfile(explicit(spec), { env: { PGPASSWORD: 'pw' } });
      expect(profile.database).to.deep.equal({ host: 'localhost', port: 6543, name: 'db', user: os.userInfo().username });
      expect(profile.repository.layout).to.equal('aiida-1');
      expect(secrets.pgPassword).to.equal('pw');
    });

    it('points at the list item of a missing config path', async () => {
      const spec: ExplicitProfileSpec = {
        config: [tmp, path.join(tmp, 'gone'), path.join(tmp, 'also-gone')],
        repository: tmp,
        database: { name: 'db' },
      };
      const e = await rejection(resolveProfile(explicit(spec), { positionOf, env: {} }));
      expect(e.message).to.contain(path.join(tmp, 'gone'));
      expect(e.pos).to.deep.equal(positionOf(['profile', 'explicit', 'config', 1]));
      expect(formatError(e)).to.match(/^backplan\.yaml:4:\d+: /);
    });

    it('requires the repository to be an existing folder', async () => {
      const file = await place('v1.json', 'file.json');
      const pos: SourcePos | undefined = positionOf(['profile', 'explicit', 'repository']);
      for (const [repository, problem] of [
        [path.join(tmp, 'gone'), 'not found'],
        [file, 'not a folder'],
      ] as const) {
        const e = await rejection(resolveProfile(explicit({ repository, database: { name: 'db' } }), { positionOf, env: {} }));
        expect(e.message).to.contain(repository).and.contain(problem);
        expect(e.pos).to.deep.equal(pos);
      }
    });
  });

  it('never puts a password in an error', async () => {
    const cases: [AiidaProfileSpec, (main: Record<string, any>) => void][] = [
      [{ config: fixture('broken.json') }, () => {}],
      [{ config: fixture('v2.json'), profile: 'nope' }, () => {}],
      [{ config: 'EDITED' }, (main) => delete main.storage.config.database_name],
      [{ config: 'EDITED' }, (main) => (main.storage.config.database_port = 'pw-main-9f3k2')],
      [{ config: 'EDITED' }, (main) => (main.storage.config.repository_uri = 'pw-main-9f3k2')],
      [{ config: 'EDITED' }, (main) => (main.storage.backend = 'core.sqlite_dos')],
    ];
    for (const [spec, edit] of cases) {
      const config = spec.config === 'EDITED' ? await editedV2(edit) : spec.config;
      const e = await rejection(resolveProfile(aiida({ ...spec, config }), { positionOf, env: {} }));
      const shown = [formatError(e), JSON.stringify(e.details)].join('\n');
      for (const pw of PASSWORDS) expect(shown, shown).not.to.contain(pw);
    }
  });
});

describe('singleProfileConfig', () => {
  it('keeps one profile, makes it the default and keeps the other keys', async () => {
    const config = JSON.parse(await readFile(fixture('v2.json'), 'utf8'));
    const before = structuredClone(config);
    const single = singleProfileConfig(config, 'other') as Record<string, any>;
    expect(Object.keys(single)).to.deep.equal(['CONFIG_VERSION', 'default_profile', 'profiles', 'options']);
    expect(single.default_profile).to.equal('other');
    expect(single.profiles).to.deep.equal({ other: config.profiles.other });
    expect(single.options).to.deep.equal(config.options);
    expect(JSON.stringify(single)).not.to.contain('pw-main-9f3k2');
    single.profiles.other.options.x = 1;
    expect(config, 'the input is left alone').to.deep.equal(before);
  });

  it('refuses a profile the config lacks', () => {
    expect(() => singleProfileConfig({ profiles: {} }, 'main')).to.throw(BackplanError, '"main"');
  });
});
