import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { Header } from 'tar';
import { connectTo } from '../src/demo/cluster.js';
import { BackplanError } from '../src/errors.js';
import { sha256File } from '../src/record/checksums.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { ArchiveGuard } from '../src/restore/archive-guard.js';
import type { ArchiveEntry } from '../src/restore/archive-guard.js';
import { extractArchive, scanArchives } from '../src/restore/archive.js';
import { checkRestoreVersions, majorVersion } from '../src/restore/versions.js';
import type { RestoreVersions } from '../src/restore/versions.js';
import { withDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';

interface CraftedEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
  linkpath?: string;
  body?: string;
}

/** A tar archive written header by header, so that it can hold what no tar tool would write. */
function craftTar(entries: CraftedEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = new Header({ path: e.path, type: e.type ?? 'File', size: body.length, mode: 0o644, linkpath: e.linkpath, mtime: new Date() });
    header.encode();
    blocks.push(header.block!);
    if (body.length > 0) blocks.push(Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function refusal(entries: ArchiveEntry[]): string | undefined {
  const guard = new ArchiveGuard('test.tar');
  try {
    for (const e of entries) guard.add(e);
    guard.finish();
    return undefined;
  } catch (e) {
    expect(e).to.be.instanceOf(BackplanError);
    expect((e as BackplanError).code).to.equal('UNSAFE_ARCHIVE');
    return (e as Error).message;
  }
}

describe('safe extraction', () => {
  describe('the archive guard', () => {
    const refused: [string, ArchiveEntry[], RegExp][] = [
      ['a path with ..', [{ path: '../escape', kind: 'file' }], /"\.\.\/escape" has a path containing \.\./],
      ['.. hidden in the middle', [{ path: 'a/../../escape', kind: 'file' }], /containing \.\./],
      ['an absolute path', [{ path: '/etc/cron.d/x', kind: 'file' }], /absolute path/],
      ['a file through a symlink to an absolute path', [{ path: 'evil', kind: 'symlink', linkpath: '/etc' }, { path: 'evil/cron.d/x', kind: 'file' }], /written through the symlink evil/],
      ['a hard link through a symlink climbing out', [{ path: 'a/evil', kind: 'symlink', linkpath: '../../x' }, { path: 'h', kind: 'hardlink', linkpath: 'a/evil/f' }], /hard link to a\/evil\/f, which leads outside/],
      ['a file written through a symlink', [{ path: 'evil', kind: 'symlink', linkpath: 'a' }, { path: 'evil/x', kind: 'file' }], /written through the symlink evil/],
      ['a hard link out through a symlink to the root', [{ path: 'l2', kind: 'symlink', linkpath: 'l1/..' }, { path: 'l1', kind: 'symlink', linkpath: '.' }, { path: 'h', kind: 'hardlink', linkpath: 'l2/x' }], /"h" is a hard link to l2\/x/],
      ['a hard link into a symlink loop', [{ path: 'a', kind: 'symlink', linkpath: 'b' }, { path: 'b', kind: 'symlink', linkpath: 'a' }, { path: 'h', kind: 'hardlink', linkpath: 'a' }], /leads outside/],
      ['a hard link out', [{ path: 'h', kind: 'hardlink', linkpath: '../x' }], /links to a path containing \.\./],
      ['an entry over a symlink', [{ path: 'l', kind: 'symlink', linkpath: 'a' }, { path: 'l', kind: 'directory' }], /over a symlink/],
      ['a device', [{ path: 'dev', kind: 'other', typeflag: '3' }], /is a character device/],
      ['a lone ..', [{ path: '..', kind: 'directory' }], /containing \.\./],
      ['.. after a ./ component', [{ path: './a/./../../x', kind: 'file' }], /containing \.\./],
      ['the root replaced by a file', [{ path: './', kind: 'file' }], /would replace the target folder itself/],
      ['a folder through a symlink, both spelt as tar writes them', [{ path: './evil', kind: 'symlink', linkpath: '/etc' }, { path: './evil/cron.d/', kind: 'directory' }], /"\.\/evil\/cron\.d\/" would be written through the symlink evil/],
      ['a file through a symlink, reached by doubled slashes', [{ path: './l', kind: 'symlink', linkpath: 'a' }, { path: './/l//x', kind: 'file' }], /written through the symlink l/],
      ['a name that is not UTF-8 through a symlink, shown escaped', [{ path: 'caf\xe9', kind: 'symlink', linkpath: '/tmp' }, { path: 'caf\xe9/x', kind: 'file' }], /"caf\\xe9\/x" would be written through the symlink caf\\xe9/],
    ];
    for (const [what, entries, message] of refused) {
      it(`refuses ${what}`, () => expect(refusal(entries)).to.match(message));
    }

    it('accepts what tar -C repo . writes: ./ prefixes, hard links that stay inside, symlinks wherever they point, names holding dots', () => {
      expect(
        refusal([
          { path: './', kind: 'directory' },
          { path: './a/b/', kind: 'directory' },
          { path: './a/b/f.txt', kind: 'file' },
          { path: './a/lnk', kind: 'symlink', linkpath: 'b' },
          { path: './a/up', kind: 'symlink', linkpath: '../a/b/f.txt' },
          { path: './a/h', kind: 'hardlink', linkpath: './a/b/f.txt' },
          { path: './a/h2', kind: 'hardlink', linkpath: 'a/lnk/f.txt' },
          { path: './a/b/g.txt', kind: 'file' },
          { path: './a/abs', kind: 'symlink', linkpath: '/etc/passwd' },
          { path: './a/out', kind: 'symlink', linkpath: '../../../elsewhere' },
          { path: './a/...', kind: 'file' },
          { path: './a/..b/', kind: 'directory' },
          { path: './a/b../.hidden', kind: 'file' },
        ]),
      ).to.equal(undefined);
    });
  });

  describe('scanArchives and extractArchive', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'backplan-safety-'));
      await mkdir(join(dir, 'sentinel'));
      await mkdir(join(dir, 'target', 'repository'), { recursive: true });
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    const hostile = (d: string): Record<string, CraftedEntry[]> => ({
      'a ../ escape': [{ path: '../../sentinel/escaped.txt', body: 'x' }],
      'an absolute path': [{ path: join(d, 'sentinel', 'absolute.txt'), body: 'x' }],
      'a symlink out, then a file through it': [
        { path: 'evil', type: 'SymbolicLink', linkpath: '../../sentinel' },
        { path: 'evil/through.txt', body: 'x' },
      ],
    });

    for (const name of ['a ../ escape', 'an absolute path', 'a symlink out, then a file through it']) {
      it(`refuses ${name} when listing; extracted anyway (the archive changed after the listing), nothing lands outside`, async () => {
        const archive = join(dir, 'hostile.tar');
        await writeFile(archive, craftTar(hostile(dir)[name]!));
        const error = await scanArchives([archive]).then(() => undefined, (e: unknown) => e as BackplanError);
        expect(error?.code, error?.message).to.equal('UNSAFE_ARCHIVE');
        await extractArchive(archive, join(dir, 'target', 'repository')).catch(() => undefined);
        expect(await readdir(join(dir, 'sentinel'))).to.deep.equal([]);
        expect(await readdir(dir)).to.have.members(['sentinel', 'target', 'hostile.tar']);
      });
    }

    it('refuses an entry of a later archive of a chain written through a symlink from an earlier one', async () => {
      const [full, delta] = [join(dir, 'full.tar'), join(dir, 'delta.tar')];
      await writeFile(full, craftTar([{ path: 'l1', type: 'SymbolicLink', linkpath: join(dir, 'sentinel') }]));
      await writeFile(delta, craftTar([{ path: 'l1/x', body: 'x' }]));
      expect(await scanArchives([delta])).to.deep.equal({ files: 1, bytes: 1 });
      const error = await scanArchives([full, delta]).then(() => undefined, (e: unknown) => e as BackplanError);
      expect(error?.code).to.equal('UNSAFE_ARCHIVE');
      expect(error?.message).to.contain(`${delta}: entry "l1/x" would be written through the symlink l1`);
    });

    it('extracts a benign archive with links, and reports a damaged one as such', async () => {
      const archive = join(dir, 'ok.tar');
      await writeFile(archive, craftTar([{ path: './d/', type: 'Directory' }, { path: './d/f.txt', body: 'hello' }, { path: './d/l', type: 'SymbolicLink', linkpath: 'f.txt' }]));
      expect(await scanArchives([archive])).to.deep.equal({ files: 1, bytes: 5 });
      await extractArchive(archive, join(dir, 'target', 'repository'));
      expect(await readFile(join(dir, 'target', 'repository', 'd', 'l'), 'utf8')).to.equal('hello');
      const damaged = join(dir, 'damaged.tar');
      await writeFile(damaged, randomBytes(4096));
      const error = await scanArchives([damaged]).then(() => undefined, (e: unknown) => e as BackplanError);
      expect(error?.code).to.equal('SNAPSHOT');
    });
  });
});

describe('version safety', () => {
  const versions = (o: Partial<RestoreVersions>): RestoreVersions => ({
    dumpServer: '15.4 (Debian 15.4-1)',
    pgDump: '15.4',
    targetServer: '15.2',
    tool: { name: 'pg_restore', version: '15.2' },
    ...o,
  });
  const failure = (v: RestoreVersions) => {
    try {
      checkRestoreVersions(v);
      return undefined;
    } catch (e) {
      return e as BackplanError;
    }
  };

  it('reads major versions old and new', () => {
    expect([majorVersion('15.20 (Debian 15.20-0+deb12u1)'), majorVersion('9.6.24'), majorVersion('16beta2'), majorVersion('')]).to.deep.equal([15, 9.6, 16, NaN]);
  });

  it('lets an older or equal major through, minor versions included', () => {
    expect(failure(versions({}))).to.equal(undefined);
    expect(failure(versions({ dumpServer: '13.1', pgDump: '14.0', targetServer: '16.1', tool: { name: 'pg_restore', version: '16.1' } }))).to.equal(undefined);
  });

  it('refuses a dump of a newer server, naming both versions and what to use', () => {
    const e = failure(versions({ dumpServer: '16.2', pgDump: '16.2', tool: { name: 'pg_restore', version: '16.2' } }));
    expect(e?.code).to.equal('TOOL_VERSION');
    expect(e?.message).to.contain('PostgreSQL 16.2').and.contain('PostgreSQL 15.2');
    expect(e?.details.hint).to.contain('PostgreSQL 16');
  });

  it('refuses a pg_restore (or psql) older than the pg_dump that wrote the dump', () => {
    const e = failure(versions({ pgDump: '17.1', targetServer: '17.0', tool: { name: 'psql', version: '15.2' } }));
    expect(e?.code).to.equal('TOOL_VERSION');
    expect(e?.message).to.contain('psql 15.2').and.contain('pg_dump 17.1');
    expect(e?.details.hint).to.contain('postgresql-client-17');
  });

  it('lets unknown versions through (older snapshots may not record them)', () => {
    expect(failure(versions({ dumpServer: '', pgDump: '' }))).to.equal(undefined);
  });
});

describe('backplan restore of a hostile or damaged snapshot', function () {
  this.timeout(120_000);
  let p: TestProfile | undefined;
  afterEach(async () => p?.cleanup());

  /** Swaps an artefact for other bytes and records their checksum, as an attacker with write access could. */
  async function replaceArtefact(snapshotDir: string, path: string, data: Buffer): Promise<void> {
    await writeFile(join(snapshotDir, path), data);
    const file = join(snapshotDir, 'snapshot.json');
    const record = JSON.parse(await readFile(file, 'utf8')) as SnapshotRecord;
    const artefact = record.artefacts.find((a) => a.path === path)!;
    Object.assign(artefact, await sha256File(join(snapshotDir, path)));
    await writeFile(file, JSON.stringify(record));
  }

  it('refuses crafted archives (../, absolute path, symlink out and a file through it) before touching anything', () =>
    withDatabase('safety', async (db) => {
      p = await makeProfile(db, { nodes: 30, extra: 'repository: { strategy: tar, tar: { compression: none } }' });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const snapshotDir = join(p.destination, (await readdir(p.destination)).find((n) => n.endsWith('-full'))!);
      const sentinel = join(p.dir, 'sentinel');
      await mkdir(sentinel);
      const target = join(p.dir, 'restored');
      const archives = [
        craftTar([{ path: './ok.txt', body: 'fine' }, { path: '../../sentinel/escaped.txt', body: 'x' }]),
        craftTar([{ path: join(sentinel, 'absolute.txt'), body: 'x' }]),
        craftTar([{ path: 'evil', type: 'SymbolicLink', linkpath: '../../sentinel' }, { path: 'evil/through.txt', body: 'x' }]),
      ];
      for (const archive of archives) {
        await replaceArtefact(snapshotDir, 'repository.tar', archive);
        const result = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', `never_${randomBytes(3).toString('hex')}`]);
        expect(result.code, result.stderr).to.equal(1);
        expect(result.stderr).to.match(/repository\.tar: entry ".*" (has|would be written|is a symlink)/).and.contain('refusing to restore');
        expect(result.stderr).not.to.match(/^\s+at /m);
        expect(await readdir(sentinel)).to.deep.equal([]);
        expect(await readdir(p.dir)).not.to.include('restored');
      }
    }));

  it('refuses a crafted delta of an incremental chain before touching anything', () =>
    withDatabase('safety', async (db) => {
      p = await makeProfile(db, { nodes: 30, extra: 'repository: { strategy: incremental }' });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const snapshotDir = join(p.destination, (await readdir(p.destination)).find((n) => n.endsWith('-incr'))!);
      const sentinel = join(p.dir, 'sentinel');
      await mkdir(sentinel);
      const target = join(p.dir, 'restored');
      const hostile = craftTar([{ path: 'evil', type: 'SymbolicLink', linkpath: '../../sentinel' }, { path: 'evil/through.txt', body: 'x' }]);
      await replaceArtefact(snapshotDir, 'repository-delta.tar.zst', execFileSync('zstd', ['-q', '-c'], { input: hostile }));
      const result = await cli(['restore', p.manifest, 'latest', '--to', target, '--database', `never_${randomBytes(3).toString('hex')}`]);
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.match(/repository-delta\.tar\.zst: entry "evil\/through\.txt" would be written through the symlink evil/).and.contain('refusing to restore');
      expect(await readdir(sentinel)).to.deep.equal([]);
      expect(await readdir(p.dir)).not.to.include('restored');
    }));

  it('refuses a snapshot whose artefact was damaged, naming it', () =>
    withDatabase('safety', async (db) => {
      p = await makeProfile(db, { nodes: 30, extra: 'repository: { strategy: tar }' });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const snapshotDir = join(p.destination, (await readdir(p.destination)).find((n) => n.endsWith('-full'))!);
      const dump = join(snapshotDir, 'database.dump.zst');
      const bytes = await readFile(dump);
      bytes[bytes.length >> 1] ^= 0xff;
      await writeFile(dump, bytes);
      const result = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'restored'), '--database', `never_${randomBytes(3).toString('hex')}`]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('is damaged').and.contain('database.dump.zst').and.contain('refusing to restore');
      expect(await readdir(p.dir)).not.to.include('restored');
    }));

  it('stops at the first failing statement of a dump and drops the database it created', () =>
    withDatabase('safety', async (db) => {
      p = await makeProfile(db, { nodes: 30, extra: 'database: { format: plain, compression: none }' });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      const snapshotDir = join(p.destination, (await readdir(p.destination)).find((n) => n.endsWith('-full'))!);
      const sql = await readFile(join(snapshotDir, 'database.sql'), 'utf8');
      await replaceArtefact(snapshotDir, 'database.sql', Buffer.from(sql.replace('CREATE TABLE', 'CREATE TABLEX')));
      const name = `never_${randomBytes(3).toString('hex')}`;
      const result = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'restored'), '--database', name]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('psql').and.contain('TABLEX');
      expect(result.stderr).to.contain(`dropped the partly restored database ${name}`).and.contain('holds a partial restore');
      const client = await connectTo(db.server, 'postgres');
      try {
        expect((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount).to.equal(0);
      } finally {
        await client.end();
      }
    }));

  it('a new database is created beside the files: a createdb that fails (the name taken since the preflight) fails the restore and drops no database', () =>
    withDatabase('safety', async (db) => {
      p = await makeProfile(db, { nodes: 30 });
      expect((await cli(['run', p.manifest])).code).to.equal(0);
      // Someone else creates the database between the preflight and createdb.
      const bin = join(p.dir, 'bin');
      await mkdir(bin);
      const createdb = execFileSync('sh', ['-c', 'command -v createdb']).toString().trim();
      await writeFile(join(bin, 'createdb'), `#!/bin/sh\n${createdb} "$@" 2>/dev/null\nexec ${createdb} "$@"\n`, { mode: 0o755 });
      const name = `taken_${randomBytes(3).toString('hex')}`;
      const result = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'restored'), '--database', name], { env: { PATH: `${bin}${delimiter}${process.env.PATH}` } });
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('createdb').and.contain('already exists').and.contain('holds a partial restore');
      expect(result.stderr).not.to.contain('dropped');
      const client = await connectTo(db.server, 'postgres');
      try {
        expect((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount, 'the database someone else created is left').to.equal(1);
        await client.query(`DROP DATABASE "${name}"`);
      } finally {
        await client.end();
      }
    }));
});
