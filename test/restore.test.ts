import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { addNodes, touchNodes } from '../src/demo/profile/index.js';
import { connectTo, dropDatabase } from '../src/demo/cluster.js';
import type { PgServer } from '../src/demo/cluster.js';
import { BackplanError } from '../src/errors.js';
import type { CompleteSnapshot, SnapshotEntry } from '../src/destination/types.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { snapshotChain } from '../src/record/chain.js';
import { expectRestoredMatchesDatabase, incrementalProfile, runSnapshot } from './support/incremental.js';
import type { IncrementalProfile } from './support/incremental.js';
import { withDatabase } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';
import { databaseText, fileHashes } from './support/compare.js';


function restoredName(): string {
  return `restored_${randomBytes(4).toString('hex')}`;
}

async function backUp(db: TestDatabase, extra: string, layout: 'aiida-1' | 'disk-objectstore'): Promise<TestProfile> {
  const p = await makeProfile(db, { layout, nodes: 60, extra });
  const result = await cli(['run', p.manifest]);
  expect(result.code, result.stderr).to.equal(0);
  return p;
}

interface RoundTrip {
  strategy: 'tar' | 'rsync';
  tar?: 'zstd' | 'gzip' | 'none';
  format: 'custom' | 'directory' | 'plain';
  compression: 'zstd' | 'gzip' | 'none';
  jobs: number;
  layout: 'aiida-1' | 'disk-objectstore';
  /** The disaster case: the live AiiDA config is gone, so the snapshot's copy says where the database lives. */
  configLost?: true;
  args?: string[];
}

const ROUND_TRIPS: RoundTrip[] = [
  { strategy: 'tar', tar: 'zstd', format: 'custom', compression: 'zstd', jobs: 1, layout: 'disk-objectstore' },
  { strategy: 'tar', tar: 'gzip', format: 'directory', compression: 'gzip', jobs: 2, layout: 'aiida-1' },
  { strategy: 'tar', tar: 'none', format: 'plain', compression: 'none', jobs: 1, layout: 'disk-objectstore', configLost: true },
  { strategy: 'rsync', format: 'custom', compression: 'gzip', jobs: 2, layout: 'aiida-1', args: ['--owner', 'postgres'] },
  { strategy: 'rsync', format: 'directory', compression: 'none', jobs: 1, layout: 'disk-objectstore', args: ['--no-owner'] },
  { strategy: 'rsync', format: 'plain', compression: 'gzip', jobs: 1, layout: 'aiida-1' },
];

function manifestExtra(c: RoundTrip): string {
  const tar = c.tar ? `, tar: { compression: ${c.tar} }` : '';
  return `repository: { strategy: ${c.strategy}${tar} }\ndatabase: { format: ${c.format}, compression: ${c.compression} }`;
}

describe('backplan restore', function () {
  this.timeout(120_000);
  let p: TestProfile | undefined;
  afterEach(async () => {
    await p?.cleanup();
    p = undefined;
  });

  for (const c of ROUND_TRIPS) {
    const label = `${c.strategy}${c.tar ? ` (${c.tar})` : ''} × ${c.format} (${c.compression}), --jobs ${c.jobs}, ${c.layout}${c.configLost ? ', live config lost' : ''}${c.args ? `, ${c.args.join(' ')}` : ''}`;
    it(`round-trips ${label}: identical files, database and a config pointing at them`, () =>
      withDatabase('restore', async (db) => {
        p = await backUp(db, manifestExtra(c), c.layout);
        const target = join(p.dir, 'restored');
        const name = restoredName();
        if (c.configLost) await rm(p.profile.configPath);
        try {
          const result = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name, '--jobs', String(c.jobs), ...(c.args ?? [])]);
          expect(result.code, result.stderr).to.equal(0);
          if (c.configLost) expect(result.stderr).to.contain("using the snapshot's copy");
          expect(result.stdout).to.contain(`restored `).and.contain(name);
          expect(await fileHashes(join(target, 'repository'))).to.deep.equal(await fileHashes(p.profile.repositoryPath));
          expect(await databaseText(db.server, name)).to.equal(await databaseText(db.server, db.name));
          await expectConfigPointsAt(join(target, '.aiida', 'config.json'), p, join(target, 'repository'), name);
          expect(await readdir(target)).to.have.members(['repository', '.aiida']);
          expect(result.stdout).to.contain(`next: AIIDA_PATH=${target} verdi status`);
        } finally {
          await dropDatabase(db.server, name);
        }
      }));
  }

  it('AiiDA: --profile-name gives a fresh PROFILE_UUID; --merge-into adds the profile beside the others, keeping a copy, refusing a name that exists', () =>
    withDatabase('restore', async (db) => {
      p = await backUp(db, 'repository: { strategy: tar }', 'disk-objectstore');
      const original = JSON.parse(await readFile(p.profile.configPath, 'utf8')) as AiidaConfig;
      const originalProfile = original.profiles[p.profile.profileName]!;
      const name = restoredName();
      try {
        const clash = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'r1'), '--database', name, '--merge-into', p.profile.configPath]);
        expect(clash.code).to.equal(1);
        expect(clash.stderr).to.contain(`already has a profile "${p.profile.profileName}"; nothing was changed`).and.contain('--profile-name');
        expect(await readdir(p.dir)).not.to.include('r1');
        expect(await databaseExists(db.server, name)).to.equal(false);

        const merged = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'r1'), '--database', name, '--profile-name', 'checkcopy', '--merge-into', p.profile.configPath]);
        expect(merged.code, merged.stderr).to.equal(0);
        expect(merged.stdout).to.contain('next: verdi --profile checkcopy status');
        const after = JSON.parse(await readFile(p.profile.configPath, 'utf8')) as AiidaConfig;
        expect(Object.keys(after.profiles).sort()).to.deep.equal(['checkcopy', p.profile.profileName].sort());
        expect(after.profiles[p.profile.profileName], 'the original profile is untouched').to.deep.equal(originalProfile);
        expect(after.default_profile).to.equal(original.default_profile);
        const copy = after.profiles.checkcopy!;
        expect(copy.PROFILE_UUID).to.match(/^[0-9a-f]{32}$/).and.not.equal(originalProfile.PROFILE_UUID);
        expect((copy.storage as { config: Record<string, unknown> }).config).to.include({ database_name: name, repository_uri: `file://${join(p.dir, 'r1', 'repository')}` });
        const backups = (await readdir(dirname(p.profile.configPath))).filter((n) => n.startsWith('config.json.backplan-'));
        expect(backups).to.have.length(1);
        expect(JSON.parse(await readFile(join(dirname(p.profile.configPath), backups[0]!), 'utf8'))).to.deep.equal(original);
        const own = JSON.parse(await readFile(join(p.dir, 'r1', '.aiida', 'config.json'), 'utf8')) as AiidaConfig;
        expect(own.default_profile).to.equal('checkcopy');
        expect(own.profiles.checkcopy).to.deep.equal(copy);
      } finally {
        await dropDatabase(db.server, name);
      }
    }));

  it('refuses a non-empty target or an existing database before touching anything; --force overrides', () =>
    withDatabase('restore', async (db) => {
      p = await backUp(db, 'repository: { strategy: tar }', 'disk-objectstore');
      const target = join(p.dir, 'restored');
      await mkdir(target);
      await writeFile(join(target, 'keep.txt'), 'mine');
      const name = restoredName();
      try {
        const busyDir = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name]);
        expect(busyDir.code).to.equal(1);
        expect(busyDir.stderr).to.contain(`${target} is not empty`).and.contain('--force');
        expect(busyDir.stderr).not.to.match(/^\s+at /m);
        expect(await databaseExists(db.server, name)).to.equal(false);

        const busyDb = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'fresh'), '--database', db.name]);
        expect(busyDb.code).to.equal(1);
        expect(busyDb.stderr).to.contain(`database ${db.name} already exists`).and.contain('--force');
        expect(await readdir(p.dir)).not.to.include('fresh');

        const dry = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name, '--force', '--dry-run']);
        expect(dry.code, dry.stderr).to.equal(0);
        expect(dry.stdout).to.contain(`${target}/repository <- extract`).and.contain(`database ${name}`).and.contain('pg_restore');
        expect(await readdir(target)).to.deep.equal(['keep.txt']);

        // --jobs 2 on a .zst custom dump goes through a temporary decompressed copy in the target.
        const forced = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name, '--force', '--jobs', '2']);
        expect(forced.code, forced.stderr).to.equal(0);
        expect(await readdir(target)).to.have.members(['keep.txt', 'repository', '.aiida']);
        const again = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', name, '--force']);
        expect(again.code, again.stderr).to.equal(0);
        expect(await databaseText(db.server, name)).to.equal(await databaseText(db.server, db.name));
      } finally {
        await dropDatabase(db.server, name);
      }
    }));
});

describe('incremental chains', () => {
  const entry = (id: string, parent?: string, complete = true): SnapshotEntry => ({
    id,
    name: id,
    dir: `/d/${id}`,
    recordFile: complete,
    time: new Date(0),
    kind: id.endsWith('incr') ? 'incr' : 'full',
    recorded: complete,
    pinned: false,
    record: complete ? ({ id, kind: id.endsWith('incr') ? 'incr' : 'full', parent, artefacts: [] } as unknown as SnapshotRecord) : undefined,
  });
  const chainIds = (entries: SnapshotEntry[], wanted: string) => snapshotChain(entries, entries.find((e) => e.id === wanted) as CompleteSnapshot).map((e) => e.id);

  it('follows parents back to the full base, oldest first', () => {
    const entries = [entry('a-full'), entry('b-incr', 'a-full'), entry('c-full', 'b-incr'), entry('d-incr', 'c-full'), entry('e-incr', 'd-incr')];
    expect(chainIds(entries, 'e-incr')).to.deep.equal(['c-full', 'd-incr', 'e-incr']);
    expect(chainIds(entries, 'a-full')).to.deep.equal(['a-full']);
  });

  it('refuses a chain with a missing or incomplete parent, or a loop', () => {
    const broken = [
      [[entry('b-incr', 'a-full')], /depends on a-full, which is missing/],
      [[entry('a-full', undefined, false), entry('b-incr', 'a-full')], /depends on a-full, which is incomplete/],
      [[entry('a-incr', 'b-incr'), entry('b-incr', 'a-incr')], /loops back/],
    ] as const;
    for (const [entries, message] of broken) {
      expect(() => chainIds([...entries], 'b-incr')).to.throw(BackplanError, message);
    }
  });
});

describe('backplan restore of an incremental chain', function () {
  this.timeout(180_000);
  let p: IncrementalProfile | undefined;
  afterEach(async () => {
    if (p) await rm(p.dir, { recursive: true, force: true });
    p = undefined;
  });

  /** A full, then two incrementals with new and touched nodes in between. */
  async function chainOfThree(db: TestDatabase, layout: 'aiida-1' | 'disk-objectstore'): Promise<string[]> {
    p = await incrementalProfile(db, { layout, nodes: 90, packed: layout === 'disk-objectstore' });
    const ids = [(await runSnapshot(p)).id];
    for (const packed of [true, false]) {
      await addNodes(p.profile, { server: db.server, database: db.name, count: 15, packed: packed && layout === 'disk-objectstore' });
      await touchNodes(p.profile, { server: db.server, database: db.name, count: 6 });
      ids.push((await runSnapshot(p)).id);
    }
    expect(ids.map((id) => id.slice(-4))).to.deep.equal(['full', 'incr', 'incr']);
    return ids;
  }

  it('AiiDA 1.x: full + two incrementals restore the last state, every file byte-identical', () =>
    withDatabase('chain', async (db) => {
      const ids = await chainOfThree(db, 'aiida-1');
      const target = join(p!.dir, 'restored');
      const name = restoredName();
      try {
        const dry = await cli(['restore', p!.manifest, 'latest', '--to', target, '--database', name, '--dry-run']);
        expect(dry.stdout.match(/^ {2}apply/gm)).to.have.length(3);
        const result = await cli(['restore', p!.manifest, 'latest', '--to', target, '--database', name]);
        expect(result.code, result.stderr).to.equal(0);
        expect(result.stderr).to.contain(`applying the repository of ${ids[2]} (incr)`);
        expect(await fileHashes(join(target, 'repository'))).to.deep.equal(await fileHashes(p!.profile.repositoryPath));
        expect(await databaseText(db.server, name)).to.equal(await databaseText(db.server, db.name));
      } finally {
        await dropDatabase(db.server, name);
      }
    }));

  it('AiiDA 2.x packed: the chain restores every object of every node; verify --restore-test replays it too', () =>
    withDatabase('chain', async (db) => {
      await chainOfThree(db, 'disk-objectstore');
      const target = join(p!.dir, 'restored');
      const name = restoredName();
      try {
        const result = await cli(['restore', p!.manifest, 'latest', '--to', target, '--database', name]);
        expect(result.code, result.stderr).to.equal(0);
        expect(await expectRestoredMatchesDatabase(db, p!, join(target, 'repository'))).to.equal(2 * 120);
        expect(await databaseText(db.server, name)).to.equal(await databaseText(db.server, db.name));
        const verified = await cli(['verify', p!.manifest, '--restore-test']);
        expect(verified.code, verified.stderr).to.equal(0);
        expect(verified.stdout).to.contain('restore test passed');
      } finally {
        await dropDatabase(db.server, name);
      }
    }));
});

async function databaseExists(server: PgServer, name: string): Promise<boolean> {
  const client = await connectTo(server, 'postgres');
  try {
    return ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

interface AiidaConfig {
  default_profile?: string;
  profiles: Record<string, Record<string, unknown>>;
}

async function expectConfigPointsAt(file: string, p: TestProfile, repository: string, database: string): Promise<void> {
  const config = JSON.parse(await readFile(file, 'utf8')) as { profiles: Record<string, Record<string, unknown>> };
  const profile = config.profiles[p.profile.profileName]!;
  if (p.profile.layout === 'disk-objectstore') {
    const storage = (profile.storage as { config: Record<string, unknown> }).config;
    expect(storage.repository_uri).to.equal(`file://${repository}`);
    expect(storage.database_name).to.equal(database);
  } else {
    expect(profile.AIIDADB_REPOSITORY_URI).to.equal(`file://${repository}`);
    expect(profile.AIIDADB_NAME).to.equal(database);
  }
}
