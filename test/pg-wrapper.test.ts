import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownGroupSpawn } from '../src/execute/own-group.js';
import { clientForVersion, newestVersion, PG_WRAPPER, unwrapPgWrapper } from '../src/execute/pg-wrapper.js';
import { askVersion } from '../src/restore/preflight.js';
import { run } from '../src/execute/subprocess.js';
import { resolveCommand } from '../src/execute/which.js';
import { testServer } from './support/pg.js';

const COMMANDS = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql', 'createdb', 'dropdb'];
const HOST = { PGHOST: '127.0.0.1' };

/** Debian's own answer: PgCommon's get_program_path with no version, which takes the newest. */
function debiansChoice(command: string): string {
  return execFileSync('perl', ['-MPgCommon', '-e', 'print get_program_path($ARGV[0])', command], { encoding: 'utf8' });
}

describe('pg_wrapper, skipped where its choice is plain', function () {
  before(function () {
    if (!existsSync(PG_WRAPPER)) this.skip(); // not Debian: the commands on PATH are the binaries
  });

  it('picks the binary Debian\'s PgCommon picks, for every client command backplan runs', function () {
    for (const command of COMMANDS) {
      const found = resolveCommand(command, '/usr/bin');
      expect(unwrapPgWrapper(found!, [], HOST)?.program, command).to.equal(debiansChoice(command));
    }
  });

  it('gives the binary pg_wrapper\'s PGSYSCONFDIR default, and keeps one that is set', function () {
    expect(unwrapPgWrapper('/usr/bin/pg_dump', [], HOST)?.env).to.deep.equal({ ...HOST, PGSYSCONFDIR: '/etc/postgresql-common' });
    expect(unwrapPgWrapper('/usr/bin/pg_dump', [], { ...HOST, PGSYSCONFDIR: '/etc/mine' })?.env.PGSYSCONFDIR).to.equal('/etc/mine');
  });

  it('leaves pg_wrapper to choose without PGHOST, or with a --cluster before any --', function () {
    expect(unwrapPgWrapper('/usr/bin/pg_dump', [], { PGCLUSTER: '15/main' })).to.equal(undefined);
    expect(unwrapPgWrapper('/usr/bin/pg_dump', ['--cluster', '15/main'], HOST)).to.equal(undefined);
    expect(unwrapPgWrapper('/usr/bin/pg_dump', ['-v', '--cluster=15/main'], HOST)).to.equal(undefined);
    expect(unwrapPgWrapper('/usr/bin/pg_dump', ['--', '--cluster=15/main'], HOST)).to.not.equal(undefined);
  });

  it('runs a binary found first on PATH as it is', function () {
    const binary = debiansChoice('pg_dump');
    expect(unwrapPgWrapper(binary, [], HOST)).to.equal(undefined);
    const spawned = ownGroupSpawn(['pg_dump', '--version'], { ...HOST, PATH: `${join(binary, '..')}:/usr/bin` }, '/usr/bin/perl');
    expect(spawned.args.slice(2)).to.deep.equal([binary, 'pg_dump', '--version']);
  });

  it('execs the binary with its full path as argv[0], so that pg_dumpall finds pg_dump beside it', async function () {
    const server = await testServer();
    const env = { ...process.env, ...server.env };
    const spawned = ownGroupSpawn(['pg_dumpall', '--roles-only'], env, '/usr/bin/perl');
    const binary = debiansChoice('pg_dumpall');
    expect(spawned.args.slice(2, 4)).to.deep.equal([binary, binary]);
    const r = await run(['pg_dumpall', '--roles-only', '--no-role-passwords', '--no-password'], { env });
    expect(r.stdout).to.match(/CREATE ROLE/);
  });
});

describe('newestVersion (PgCommon get_newest_version)', function () {
  let root: string;

  before(async function () {
    root = await mkdtemp(join(tmpdir(), 'backplan-pgroot-'));
    const versions = { '9.6': true, '10': true, '15': true, '16': false, 'x16': true, '17beta': true };
    for (const [version, hasCommand] of Object.entries(versions)) {
      await mkdir(join(root, version, 'bin'), { recursive: true });
      const program = join(root, version, 'bin', hasCommand ? 'pg_dump' : 'psql');
      await writeFile(program, '#!/bin/sh\n');
      await chmod(program, 0o755);
    }
  });

  after(async function () {
    await rm(root, { recursive: true, force: true });
  });

  it('takes the highest numeric version folder holding the command, by number, not by text', function () {
    expect(newestVersion('pg_dump', root)).to.equal('15');
    expect(newestVersion('psql', root)).to.equal('16');
    expect(newestVersion('pg_restore', root)).to.equal(undefined);
    expect(newestVersion('pg_dump', join(root, 'missing'))).to.equal(undefined);
  });
});

describe('asking a PostgreSQL client its version', function () {
  const saved = { PGHOST: process.env.PGHOST, PGCLUSTER: process.env.PGCLUSTER };

  before(function () {
    if (!existsSync(PG_WRAPPER)) this.skip();
    // A shell that picks clusters by PGCLUSTER and no host: pg_wrapper follows PGCLUSTER for a
    // child without PGHOST, and ignores it for the children backplan runs, which have PGHOST.
    delete process.env.PGHOST;
    process.env.PGCLUSTER = '99/main';
  });

  after(function () {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('asks the binary the dump and the restore run, not the one PGCLUSTER names', async function () {
    expect(() => execFileSync('pg_restore', ['--version'], { stdio: 'pipe' }), 'pg_wrapper without PGHOST').to.throw(/Invalid version 99/);
    for (const command of ['pg_dump', 'pg_restore', 'psql']) expect(clientForVersion(command).program, command).to.equal(debiansChoice(command));
    for (const loader of ['pg_restore', 'psql']) {
      const answer = await askVersion(loader);
      expect(answer, loader).to.have.property('stdout').that.matches(new RegExp(`^${loader} \\(PostgreSQL\\) ${newestVersion(loader)}\\.`));
    }
  });
});
