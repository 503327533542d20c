/**
 * The Destination interface's conformance suite, run against every kind (as restic runs one
 * backend test suite against each backend): the same calls must leave the same folder behind,
 * whether the folder is reached directly or over ssh. The CLI-level scenarios are in
 * destination-scenarios.test.ts.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { closeDestinations, openDestination } from '../src/destination/registry.js';
import type { Destination } from '../src/destination/types.js';
import { isBackplanError } from '../src/errors.js';
import { run } from '../src/execute/subprocess.js';
import { acquireLock, releaseLock } from '../src/record/lock.js';
import type { ArtefactRecord, SnapshotRecord } from '../src/record/snapshot-record.js';
import { writeSha256Sums } from '../src/record/checksums.js';
import { verifySnapshot } from '../src/record/verify.js';
import { isStreamedArtefact } from '../src/record/streamed.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';
import { spawnHolder } from './support/lock-holder.js';

const ID = '2026-11-22T030000Z-full';
/** The repository folder of a snapshot these tests write: a file in a subfolder, one at the top. */
const REPOSITORY = new Map([
  ['ab/node', 'node file\n'],
  ['top', 'top file\n'],
]);
const LATER = '2026-11-23T030000Z-incr';

for (const kind of DESTINATION_KINDS) {
  describe(`destination conformance: ${kind.name}`, function () {
    this.timeout(60_000);
    let scratch: string;
    let dir: string;
    let dest: Destination;

    useKind(kind);
    beforeEach(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'backplan-conformance-'));
      dir = join(scratch, 'backups');
      dest = openDestination(kind.spec(dir), { ...process.env, ...kind.env(scratch) });
    });
    afterEach(async () => {
      // An rclone root keeps its daemon for the life of the process: each test has its own root.
      await closeDestinations();
      await rm(scratch, { recursive: true, force: true });
    });

    /** A snapshot as a run writes it before finalize: prepared, an artefact and a folder written. */
    async function writeSnapshot(id: string, opts: { parent?: string; files?: Map<string, string> } = {}): Promise<SnapshotRecord> {
      await dest.prepare(id, () => undefined);
      const content = `artefact of ${id}\n`;
      const sink = dest.artefactSink(id, 'database.dump');
      sink.stream.end(content);
      expect(await sink.done()).to.deep.equal({ bytes: content.length, sha256: sha256(content) });
      const artefacts: ArtefactRecord[] = [{ path: 'database.dump', bytes: content.length, sha256: sha256(content) }];
      const files = opts.files ?? REPOSITORY;
      artefacts.push(kind.rsync ? await rsyncFolder(id, files) : await stagedFolder(id, files));
      return snapshotRecord(id, artefacts, opts.parent);
    }

    async function publishSnapshot(id: string, opts: { parent?: string; files?: Map<string, string> } = {}): Promise<SnapshotRecord> {
      const record = await writeSnapshot(id, opts);
      await dest.publish(id, record);
      return record;
    }

    /** What repo-rsync does: rsync through the destination's target, then hash it where it landed. */
    async function rsyncFolder(id: string, files: Map<string, string>): Promise<ArtefactRecord> {
      const source = join(scratch, 'source');
      await writeFiles(source, files);
      const { options, target } = dest.rsyncTarget(id, 'repository');
      await run(['rsync', '--archive', ...options, '--', `${source}/`, `${target}/`], { stdout: 'ignore' });
      return dest.folderSums(id, 'repository');
    }

    /** What a directory-format dump does: a folder written into partialDir, listed in SHA256SUMS there. */
    async function stagedFolder(id: string, files: Map<string, string>): Promise<ArtefactRecord> {
      const { partialDir } = dest.snapshotPaths(id);
      await writeFiles(join(partialDir, 'repository'), files);
      return writeSha256Sums(partialDir, 'repository');
    }

    it('lists a missing destination as empty', async () => {
      expect(await dest.list()).to.deep.equal([]);
      expect(await dest.names()).to.deep.equal([]);
      expect(dest.location('.lock')).to.match(new RegExp(`${escape(dir)}/\\.lock$`));
    });

    it('reads, writes, creates exclusively and removes small files', async () => {
      expect(await dest.createText('.lock', 'first')).to.equal(true);
      expect(await dest.createText('.lock', 'second'), 'exclusive').to.equal(false);
      expect((await dest.readText('.lock'))?.trim()).to.equal('first');
      expect(await dest.readText('missing.json')).to.equal(undefined);
      await dest.writeText('.last-run.json', '{"a":1}\n');
      await dest.writeText('.last-run.json', '{"a":2}\n');
      expect((await kind.store.read(dir, '.last-run.json'))?.toString()).to.equal('{"a":2}\n');
      expect((await kind.store.names(dir)).sort(), 'no temporary file left by the atomic write').to.deep.equal(['.last-run.json', '.lock']);
      await dest.removeFile('.lock');
      await dest.removeFile('.lock');
      expect(await dest.readText('.lock')).to.equal(undefined);
    });

    it('stats a file: its size, its mtime and its age; a missing one is undefined', async () => {
      expect(await dest.stat('.lock')).to.equal(undefined);
      expect(await dest.createText('.lock', 'twelve bytes')).to.equal(true);
      const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 11 * 60_000);
      await kind.store.touch(dir, '.lock', mtime);
      const stat = await dest.stat('.lock');
      expect(stat).to.deep.include({ bytes: 'twelve bytes\n'.length, mtimeMs: mtime.getTime() });
      expect(stat!.ageMs).to.be.within(11 * 60_000 - 1000, 11 * 60_000 + 60_000);
    });

    it('publishes a snapshot atomically: partial until publish, then complete, with its record and latest', async () => {
      const record = await writeSnapshot(ID);
      expect((await dest.list()).map((e) => [e.name, e.recorded])).to.deep.equal([[`.partial-${ID}`, false]]);
      expect(await kind.store.read(dir, `${ID}/snapshot.json`), 'no snapshot.json before publish').to.equal(undefined);
      if (kind.renames) expect(await exists(join(dir, ID)), 'nothing published before publish').to.equal(false);
      await dest.publish(ID, record);
      const [entry, ...rest] = await dest.list();
      expect(rest).to.deep.equal([]);
      expect(entry).to.deep.include({ id: ID, name: ID, kind: 'full', recorded: true, pinned: false, recordFile: true });
      expect(entry!.record).to.deep.equal(JSON.parse(JSON.stringify(record)));
      expect(entry!.dir).to.equal(dest.snapshotPaths(ID).dir);
      expect((await kind.store.state(dir)).latest).to.equal(ID);
      expect(await kind.store.names(dir, ID)).to.include.members(['snapshot.json', 'database.dump', 'repository', 'repository.SHA256SUMS']);
      expect(dest.publishCommands(ID).length).to.be.greaterThan(0);
    });

    it('lists pins, verification and unreadable records as they are', async () => {
      await publishSnapshot(ID);
      await dest.writeText(`${ID}/.pinned`, 'pinned\n');
      await dest.writeText(`${ID}/verification.json`, JSON.stringify({ verifiedAt: '2026-11-22T04:00:00.000Z' }));
      await kind.store.write(dir, `${LATER}/snapshot.json`, '{ truncated');
      const [first, second] = await dest.list();
      expect(first).to.deep.include({ id: ID, pinned: true, verification: { verifiedAt: '2026-11-22T04:00:00.000Z', failedAt: undefined } });
      expect(second).to.deep.include({ id: LATER, kind: 'incr', recorded: false, recordFile: true });
      expect(second!.record).to.equal(undefined);
      expect(second!.recordProblem).to.match(/not valid JSON/);
    });

    it('hashes where the files lie: every artefact and every listed file, a flipped byte and a missing file named', async () => {
      await publishSnapshot(ID);
      const clean = await verifySnapshot(dest, ID, { deep: true });
      expect(clean.problems).to.deep.equal([]);
      expect(clean.checkedFiles, 'two artefacts and two listed files').to.equal(4);
      await kind.store.write(dir, `${ID}/repository/top`, 'top filE\n');
      await kind.store.remove(dir, `${ID}/database.dump`);
      const damaged = await verifySnapshot(dest, ID, { deep: true });
      expect(damaged.problems.map((p) => p.path).sort()).to.deep.equal(['database.dump', 'repository/top']);
      expect(damaged.problems.find((p) => p.path === 'database.dump')!.problem).to.equal('missing');
    });

    it('checks a list of thousands of files whole: every file counted, damage anywhere in it named', async function () {
      // Where sha256sum checks the files in place: a list this long is dealt to one sha256sum per
      // core (local.ts). rclone kinds download object by object, as for the short list above; and
      // s3rver pages a listing in the order it walks its folders, not S3's byte order, so a key
      // sorting before the first page's last (repository.SHA256SUMS < repository/…) is never listed.
      if (!kind.rsync) this.skip();
      const files = new Map(Array.from({ length: 3000 }, (_, i) => [`${String(i % 50).padStart(2, '0')}/node-${i}`, `content of node ${i}\n`]));
      await publishSnapshot(ID, { files });
      const clean = await verifySnapshot(dest, ID, { deep: true });
      expect(clean.problems).to.deep.equal([]);
      expect(clean.checkedFiles, 'two artefacts and every listed file').to.equal(2 + files.size);
      const damaged = ['00/node-0', '01/node-1', '17/node-2467', '49/node-2999'];
      await kind.store.write(dir, `${ID}/repository/${damaged[0]}`, 'flipped\n');
      await kind.store.write(dir, `${ID}/repository/${damaged[1]}`, 'flipped\n');
      await kind.store.remove(dir, `${ID}/repository/${damaged[2]}`);
      await kind.store.write(dir, `${ID}/repository/${damaged[3]}`, 'flipped\n');
      const report = await verifySnapshot(dest, ID, { deep: true });
      expect(report.checkedFiles).to.equal(2 + files.size);
      expect(report.problems.map((p) => p.path).sort()).to.deep.equal(damaged.map((d) => `repository/${d}`));
      expect(report.problems.find((p) => p.path.endsWith(damaged[2]!))!.problem).to.equal('missing');
    });

    it('links an rsync folder to the same folder of an earlier snapshot (or refuses rsync without a filesystem)', async () => {
      if (!kind.rsync) {
        const refused = (() => {
          try {
            dest.rsyncTarget(LATER, 'repository', ID);
          } catch (e) {
            return e;
          }
        })();
        expect(isBackplanError(refused) && refused.details.hint).to.match(/tar or incremental/);
        return;
      }
      await publishSnapshot(ID);
      const { linkDest } = dest.rsyncTarget(LATER, 'repository', ID);
      expect(linkDest).to.equal(join(dir, ID, 'repository'));
    });

    it('removes snapshots by name, complete or partial, refusing anything else', async () => {
      await publishSnapshot(ID);
      await dest.prepare(LATER, () => undefined);
      await dest.removeSnapshots([ID, `.partial-${LATER}`, '2026-01-01T000000Z-full']);
      expect(await dest.list()).to.deep.equal([]);
      const refused = await dest.removeSnapshots(['..']).then(() => undefined, (e: Error) => e);
      expect(refused?.message).to.match(/not a snapshot folder/);
    });

    it('fetches a chain as local folders holding the same bytes (a copy leaves the large artefacts to stream from the destination), and releases any copy', async () => {
      await publishSnapshot(ID);
      await publishSnapshot(LATER, { parent: ID });
      const chain = (await dest.list()).map((e) => ({ ...e, record: e.record! }));
      const local = await dest.fetch(chain, { log: () => undefined });
      try {
        expect(local.entries.map((e) => e.id)).to.deep.equal([ID, LATER]);
        expect(local.remote === undefined, 'a copy streams the rest from the destination').to.equal(!local.copied);
        for (const entry of local.entries) {
          const dump = `artefact of ${entry.id}\n`;
          if (local.remote) {
            expect(await exists(join(entry.dir, 'database.dump')), 'the dump is not copied').to.equal(false);
            expect(await streamed(local.remote, `${entry.id}/database.dump`)).to.equal(dump);
          } else expect(await readFile(join(entry.dir, 'database.dump'), 'utf8')).to.equal(dump);
          const skip = local.remote ? isStreamedArtefact : undefined;
          expect((await verifySnapshot(local.local, entry.id, { deep: true, skip })).problems).to.deep.equal([]);
        }
      } finally {
        await local.release();
      }
      if (local.copied) expect(await exists(local.entries[0]!.dir), 'copy released').to.equal(false);
    });

    it('locks: a live holder keeps it (LOCKED, naming it), a dead holder on this host is taken over, release frees it', async () => {
      const sleeper = spawnHolder('backplan');
      try {
        await kind.store.write(dir, '.lock', sleeper.lock());
        const locked = await acquireLock(dest, 'test-job', { waitMs: 0 }).then(() => undefined, (e: unknown) => e);
        expect(isBackplanError(locked) && locked.code).to.equal('LOCKED');
        expect((locked as Error).message).to.contain(`process ${sleeper.pid}`).and.to.contain('.lock');
      } finally {
        await sleeper.stop();
      }
      const warnings: string[] = [];
      const me = await acquireLock(dest, 'test-job', { waitMs: 0, warn: (m) => warnings.push(m) });
      expect(warnings.join('\n')).to.match(new RegExp(`taking over the lock of process ${sleeper.pid}`));
      expect(JSON.parse((await kind.store.read(dir, '.lock'))!.toString())).to.deep.equal(me);
      await releaseLock(dest);
      expect((await kind.store.names(dir)).filter((n) => n.startsWith('.lock'))).to.deep.equal([]);
    });

    it('says where a full disk matters, naming a local folder to measure', () => {
      const space = dest.space();
      expect(space.where).to.contain(dir);
      expect(space.localFolder).to.be.a('string').and.not.equal('');
    });
  });
}

function snapshotRecord(id: string, artefacts: ArtefactRecord[], parent?: string): SnapshotRecord {
  return {
    format: 'backplan-snapshot/1',
    id,
    kind: id.endsWith('incr') ? 'incr' : 'full',
    job: 'conformance',
    startedAt: '2026-11-22T03:00:00.000Z',
    completedAt: '2026-11-22T03:01:00.000Z',
    tool: { name: 'backplan', version: '0.0.0-test' },
    manifest: { file: 'm.yaml', sha256: '0'.repeat(64) },
    parent,
    artefacts,
    steps: [],
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(
    () => true,
    () => false,
  );
}

/** A file's bytes as the destination streams them (what restore reads of a large artefact). */
async function streamed(dest: Destination, path: string): Promise<string> {
  const chunks: Buffer[] = [];
  await dest.streamFile!(path, new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) }));
  return Buffer.concat(chunks).toString();
}

async function writeFiles(root: string, files: Map<string, string>): Promise<void> {
  for (const [path, content] of files) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
}
