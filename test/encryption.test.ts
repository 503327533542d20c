/**
 * Encryption with age (#15), against every destination kind: every stored byte is ciphertext,
 * the identity restores byte-identical and DB-equal, and without it (or with a wrong one)
 * restore and verify --restore-test refuse before anything is written; verify needs no key.
 * Real age, tar, zstd and PostgreSQL.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { access, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectTo, createDatabase, dropDatabase } from '../src/demo/cluster.js';
import { addNodes, touchNodes } from '../src/demo/profile/index.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { databaseText, fileHashes } from './support/compare.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';
import { expectRestoredMatchesDatabase, incrementalProfile } from './support/incremental.js';
import { writeManifest } from './support/manifests.js';
import { databaseExists } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';
import { cli, useProfile } from './support/profile.js';
import type { CliResult } from './support/profile.js';

const CANARY = 'CANARY-7f3a9c-backplan-must-never-store-this-in-clear';
const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

interface Keys {
  dir: string;
  /** age-keygen's identity file and its public key. */
  ageIdentity: string;
  agePublic: string;
  /** An unencrypted ssh ed25519 private key (an age identity too) and its public key. */
  sshIdentity: string;
  sshPublic: string;
  /** An identity matching neither recipient. */
  wrongIdentity: string;
}

async function makeKeys(dir: string): Promise<Keys> {
  await mkdir(dir, { recursive: true });
  const ageIdentity = join(dir, 'identity.txt');
  const wrongIdentity = join(dir, 'wrong.txt');
  const sshIdentity = join(dir, 'id_ed25519');
  execFileSync('age-keygen', ['-o', ageIdentity], { stdio: 'ignore' });
  execFileSync('age-keygen', ['-o', wrongIdentity], { stdio: 'ignore' });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'restore@test', '-f', sshIdentity]);
  const agePublic = execFileSync('age-keygen', ['-y', ageIdentity], { encoding: 'utf8' }).trim();
  const sshPublic = (await readFile(`${sshIdentity}.pub`, 'utf8')).trim();
  return { dir, ageIdentity, agePublic, sshIdentity, sshPublic, wrongIdentity };
}

const encryptionYaml = (k: Keys) => `encryption: { age: { recipients: [${JSON.stringify(k.agePublic)}, ${JSON.stringify(k.sshPublic)}] } }`;

/** Files under `root` whose raw bytes hold `needle`. */
async function filesHolding(root: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path)).includes(needle)) found.push(path);
  }
  return found;
}

/** Puts the canary in a repository file, a database row and the AiiDA config (a broker password). */
async function plantCanary(db: TestDatabase, repository: string, configPath: string): Promise<void> {
  await writeFile(join(repository, 'canary.txt'), `${CANARY}\n`);
  const client = await connectTo(db.server, db.name);
  try {
    await client.query('UPDATE db_dbnode SET description = $1 WHERE id = (SELECT min(id) FROM db_dbnode)', [CANARY]);
  } finally {
    await client.end();
  }
  const config = await readFile(configPath, 'utf8');
  expect(config).to.match(/"broker_password": "guest"/);
  await writeFile(configPath, config.replace(/"broker_password": "guest"/g, `"broker_password": "${CANARY}"`));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

for (const kind of DESTINATION_KINDS) describe(`encryption with age: ${kind.name}`, function () {
  this.timeout(180_000);
  const p = useProfile('age', { nodes: 40, fresh: true });
  let keys: Keys;
  let destDir: string;

  useKind(kind);

  beforeEach(async () => {
    keys = await makeKeys(join(p.dir, 'keys'));
    destDir = join(p.dir, 'encrypted backups');
  });

  const backplan = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => cli(args, { env: { ...kind.env(p.dir), ...env } });

  async function latestRecord(dir: string): Promise<{ id: string; record: SnapshotRecord; text: string }> {
    const id = (await kind.store.state(dir)).latest!;
    const text = (await kind.store.read(dir, `${id}/snapshot.json`))!.toString('utf8');
    return { id, record: JSON.parse(text) as SnapshotRecord, text };
  }

  it('tar strategy: no stored byte is clear text, verify needs no key, and the identity restores byte-identical and DB-equal', async () => {
    await plantCanary(p.db, p.profile.repositoryPath, p.profile.configPath);
    // No compression at all: without encryption the canary would be stored as it is (the control below).
    const plain = 'database: { format: plain, compression: none }\nrepository: { strategy: tar, tar: { compression: none } }';
    const file = await writeManifest(p, 'encrypted.yaml', `${plain}\n${encryptionYaml(keys)}`, { destination: kind.spec(destDir) });
    const run = await backplan(['run', file]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout + run.stderr, 'no identity is ever named in a run').to.not.include('AGE-SECRET-KEY');

    expect(await filesHolding(kind.storedAt(destDir), CANARY), 'files holding the canary in clear').to.deep.equal([]);
    const { id, record, text } = await latestRecord(destDir);
    expect(record.encryption).to.deep.equal({ tool: 'age', recipients: [keys.agePublic, keys.sshPublic] });
    expect(record.artefacts.map((a) => a.path).sort()).to.deep.equal(['config/config.json.age', 'database.roles.sql.age', 'database.sql.age', 'repository.tar.age']);
    expect(text).to.not.include('AGE-SECRET-KEY');
    expect(text).to.not.include(keys.dir);
    // The recorded checksums are of the ciphertext: verify holds no key and passes.
    const verified = await backplan(['verify', file], { BACKPLAN_AGE_IDENTITY_FILE: '' });
    expect(verified.code, verified.stderr).to.equal(0);
    expect(verified.stdout).to.match(new RegExp(`${id}\\s+ok`));

    // The control: the same run unencrypted stores the canary where the grep above looks.
    const controlDir = join(p.dir, 'clear backups');
    const control = await writeManifest(p, 'clear.yaml', plain, { destination: kind.spec(controlDir), name: 'clear-job' });
    expect((await backplan(['run', control])).code).to.equal(0);
    expect((await filesHolding(kind.storedAt(controlDir), CANARY)).length, 'the unencrypted control stores the canary').to.be.greaterThan(1);

    const restoredDb = `${p.db.name}_restored`;
    const target = join(p.dir, 'restored');
    try {
      const restored = await backplan(['restore', file, 'latest', '--to', target, '--database', restoredDb, '--identity', keys.sshIdentity]);
      expect(restored.code, restored.stderr).to.equal(0);
      const back = await fileHashes(join(target, 'repository'));
      expect(back).to.deep.equal(await fileHashes(p.profile.repositoryPath));
      expect(await databaseText(p.db.server, restoredDb)).to.equal(await databaseText(p.db.server, p.db.name));
      expect(await readFile(join(target, '.aiida', 'config.json'), 'utf8')).to.include(CANARY);
    } finally {
      await dropDatabase(p.db.server, restoredDb);
    }
  });

  it('restore and verify --restore-test refuse without the identity and with a wrong one, writing nothing', async () => {
    const file = await writeManifest(p, 'encrypted.yaml', encryptionYaml(keys), { destination: kind.spec(destDir) });
    expect((await backplan(['run', file])).code).to.equal(0);
    const { id } = await latestRecord(destDir);
    const target = join(p.dir, 'restored');
    const name = `${p.db.name}_restored`;
    const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ['no identity', [], { BACKPLAN_AGE_IDENTITY_FILE: '' }, /is encrypted with age to age1.*, ssh-ed25519 restore@test, and no identity was given; nothing was changed/],
      ['a wrong identity', ['--identity', keys.wrongIdentity], {}, /the identity .*wrong\.txt cannot decrypt .*: no identity matched any of the recipients; nothing was changed/],
      ['a wrong identity from the environment', [], { BACKPLAN_AGE_IDENTITY_FILE: keys.wrongIdentity }, /cannot decrypt/],
    ];
    for (const [what, args, env, says] of cases) {
      const restore = await backplan(['restore', file, 'latest', '--to', target, '--database', name, ...args], env);
      expect(restore.code, `restore with ${what}: ${restore.stderr}`).to.equal(1);
      expect(restore.stderr, what).to.match(says);
      expect(restore.stderr, what).to.match(/hint: pass the age identity .*--identity FILE, or BACKPLAN_AGE_IDENTITY_FILE=FILE/);
      expect(restore.stderr, what).to.not.match(NO_STACK);
      expect(await exists(target), `${what}: the target was not created`).to.equal(false);
      expect(await databaseExists(p.db.server, name), `${what}: no database was created`).to.equal(false);

      const test = await backplan(['verify', file, '--restore-test', ...args], env);
      expect(test.code, `verify --restore-test with ${what}: ${test.stdout}${test.stderr}`).to.equal(1);
      expect(test.stderr, what).to.match(says);
      expect(test.stderr, what).to.not.match(NO_STACK);
    }
    // An identity file that is not there is a usage mistake, said as such.
    const missing = await backplan(['restore', file, id, '--to', target, '--identity', join(keys.dir, 'nope.txt')]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/cannot read the age identity .*nope\.txt \(from --identity\): ENOENT/);
    expect(await exists(target)).to.equal(false);
    // And with the right one, verify --restore-test passes.
    const passes = await backplan(['verify', file, '--restore-test'], { BACKPLAN_AGE_IDENTITY_FILE: keys.ageIdentity });
    expect(passes.code, passes.stderr).to.equal(0);
    expect(passes.stdout).to.match(/restore test passed/);
  });

  it('an explicit profile: each configuration file is stored encrypted and restored as it was', async () => {
    const etc = join(p.dir, 'etc-dss');
    await mkdir(join(etc, 'nested'), { recursive: true });
    await writeFile(join(etc, 'settings.json'), `{"secret": "${CANARY}"}\n`);
    await writeFile(join(etc, 'nested', 'tls.key'), `${CANARY} key\n`);
    await writeFile(join(p.dir, 'install.ini'), `[general]\npassword = ${CANARY}\n`);
    const { server } = p.db;
    const file = join(p.dir, 'explicit.yaml');
    await writeFile(
      file,
      [
        'version: 1',
        'name: explicit-job',
        'profile:',
        '  explicit:',
        `    config: [${JSON.stringify(etc)}, ${JSON.stringify(join(p.dir, 'install.ini'))}]`,
        `    repository: ${JSON.stringify(p.profile.repositoryPath)}`,
        `    database: { host: ${JSON.stringify(server.host)}, port: ${server.port}, name: ${JSON.stringify(p.db.name)}, user: ${JSON.stringify(server.user)} }`,
        `destination: ${JSON.stringify(kind.spec(destDir))}`,
        encryptionYaml(keys),
      ].join('\n') + '\n',
    );
    const run = await backplan(['run', file]);
    expect(run.code, run.stderr).to.equal(0);
    const { record } = await latestRecord(destDir);
    expect(record.artefacts.map((a) => a.path).filter((a) => a.startsWith('config/')).sort()).to.deep.equal([
      'config/etc-dss/nested/tls.key.age',
      'config/etc-dss/settings.json.age',
      'config/install.ini.age',
    ]);
    expect(await filesHolding(kind.storedAt(destDir), CANARY)).to.deep.equal([]);
    const target = join(p.dir, 'restored');
    const name = `${p.db.name}_restored`;
    try {
      const restored = await backplan(['restore', file, 'latest', '--to', target, '--database', name, '--identity', keys.ageIdentity]);
      expect(restored.code, restored.stderr).to.equal(0);
      expect(await fileHashes(join(target, 'config', 'etc-dss'))).to.deep.equal(await fileHashes(etc));
      expect(await readFile(join(target, 'config', 'install.ini'), 'utf8')).to.equal(`[general]\npassword = ${CANARY}\n`);
    } finally {
      await dropDatabase(p.db.server, name);
    }
  });

  it('with the machine lost (its AiiDA config gone), the identity still finds the database in the snapshot\'s encrypted config copy', async () => {
    const file = await writeManifest(p, 'encrypted.yaml', encryptionYaml(keys), { destination: kind.spec(destDir) });
    expect((await backplan(['run', file])).code).to.equal(0);
    await rm(p.profile.configPath);
    const target = join(p.dir, 'restored');
    const name = `${p.db.name}_restored`;
    try {
      const restored = await backplan(['restore', file, 'latest', '--to', target, '--database', name, '--identity', keys.ageIdentity]);
      expect(restored.code, restored.stderr).to.equal(0);
      expect(restored.stderr).to.match(/note: the manifest's profile cannot be read .*; using the snapshot's encrypted copy .*config\.json\.age/);
      expect(await databaseText(p.db.server, name)).to.equal(await databaseText(p.db.server, p.db.name));
    } finally {
      await dropDatabase(p.db.server, name);
    }
  });

  it('incremental strategy (disk-objectstore): an encrypted full and delta restore the last state; the backup host reads only public metadata', async () => {
    const chainDb: TestDatabase = { server: p.db.server, name: await createDatabase(p.db.server, 'ageincr') };
    const incr = await incrementalProfile(chainDb, { layout: 'disk-objectstore', nodes: 60, packed: true });
    try {
      await plantCanary(chainDb, incr.profile.repositoryPath, incr.profile.configPath);
      const chainDir = join(incr.dir, 'encrypted backups');
      const file = await writeManifest({ ...p, dir: incr.dir, profile: incr.profile }, 'backup.yaml', `repository: { strategy: incremental, incremental: { margin: 1m } }\n${encryptionYaml(keys)}`, {
        destination: kind.spec(chainDir),
        name: 'incr-test',
      });
      const env = { ...kind.env(incr.dir), BACKPLAN_AGE_IDENTITY_FILE: '' };
      const first = await cli(['run', file], { env });
      expect(first.code, first.stderr).to.equal(0);
      await addNodes(incr.profile, { server: chainDb.server, database: chainDb.name, count: 10, packed: true });
      await touchNodes(incr.profile, { server: chainDb.server, database: chainDb.name, count: 4 });
      await new Promise((r) => setTimeout(r, 1100));
      // The delta is made with no identity anywhere: the parent's state is its snapshot.json.
      const second = await cli(['run', file], { env });
      expect(second.code, second.stderr).to.equal(0);
      const { record } = await latestRecord(chainDir);
      expect(record.kind).to.equal('incr');
      expect(record.artefacts.length).to.be.greaterThan(1);
      expect(record.artefacts.filter((a) => !a.path.endsWith('.age')), 'every artefact is encrypted').to.deep.equal([]);
      const paths = record.artefacts.map((a) => a.path);
      expect(paths).to.include.members(['repository-delta.tar.zst.age', 'packs.idx-delta.sql.zst.age']);
      expect(paths.filter((a) => /^packs\/\d+@\d+\.zst\.age$/.test(a)), 'pack tails').to.not.deep.equal([]);
      expect(await filesHolding(kind.storedAt(chainDir), CANARY)).to.deep.equal([]);

      const name = `${chainDb.name}_restored`;
      try {
        const restored = await cli(['restore', file, 'latest', '--to', join(incr.dir, 'restored'), '--database', name, '--identity', keys.ageIdentity], { env });
        expect(restored.code, restored.stderr).to.equal(0);
        expect(await expectRestoredMatchesDatabase(chainDb, incr, join(incr.dir, 'restored', 'repository'))).to.be.greaterThan(0);
        expect(await readFile(join(incr.dir, 'restored', 'repository', 'canary.txt'), 'utf8')).to.equal(`${CANARY}\n`);
        expect(await databaseText(p.db.server, name)).to.equal(await databaseText(p.db.server, chainDb.name));
      } finally {
        await dropDatabase(p.db.server, name);
      }
    } finally {
      await rm(incr.dir, { recursive: true, force: true });
      await dropDatabase(p.db.server, chainDb.name);
    }
  });
});
