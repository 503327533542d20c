/**
 * What users do with a destination, through the CLI, against every destination kind (see
 * support/destination-kinds.ts): a local folder, and `user@host:/path` through a loopback sshd
 * the harness starts with a throwaway key. Every folder is on this machine, so the tests read it
 * directly to check what backplan did there.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTo, createDatabase, dropDatabase } from '../src/demo/cluster.js';
import { addNodes, touchNodes } from '../src/demo/profile/index.js';
import { expectRestoredMatchesDatabase, incrementalProfile } from './support/incremental.js';
import { sha256File } from '../src/record/checksums.js';
import { databaseText, fileHashes } from './support/compare.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { exists } from './support/destination.js';
import { argvsWhile } from './support/argv-watch.js';
import { writeManifest } from './support/manifests.js';
import type { TestDatabase } from './support/pg.js';
import { cli, useProfile } from './support/profile.js';
import type { CliResult } from './support/profile.js';
import { processesOf, spawnCli } from './support/procs.js';
import { spawnHolder } from './support/lock-holder.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';

const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

for (const kind of DESTINATION_KINDS) describe(`destination scenarios: ${kind.name}`, function () {
  this.timeout(180_000);
  const p = useProfile('ssh', { nodes: 60, fresh: true });
  let destDir: string;
  let destination: string;

  useKind(kind);

  beforeEach(async () => {
    destDir = join(p.dir, 'the backups');
    destination = kind.spec(destDir);
  });

  const env = () => kind.env(p.dir);
  const backplan = (args: string[]): Promise<CliResult> => cli(args, { env: env() });
  const manifest = (extra: string, file = 'backup.yaml') => writeManifest(p, file, extra, { destination });

  async function runOk(file: string): Promise<CliResult> {
    const result = await backplan(['run', file]);
    expect(result.code, result.stderr).to.equal(0);
    return result;
  }

  const store = kind.store;
  /** The repository strategy for tests about something else: rsync where the kind takes it. */
  const copying = kind.rsync ? 'rsync' : 'tar';

  async function records(): Promise<SnapshotRecord[]> {
    const { published } = await store.state(destDir);
    return Promise.all(published.map(async (id) => JSON.parse((await store.read(destDir, `${id}/snapshot.json`))!.toString()) as SnapshotRecord));
  }

  it('rsync strategy: snapshots land laid out as SPEC says, hard-linked to the previous one, checksums matching', async function () {
    if (!kind.rsync) this.skip();
    const file = await manifest('repository: { strategy: rsync }\ndatabase: { format: directory, compression: zstd }');
    await runOk(file);
    await sleepToNextSecond();
    await runOk(file);
    const state = await store.expectSound(destDir);
    expect(state.published).to.have.length(2);
    expect(state.partial).to.deep.equal([]);
    expect(state.lock, 'lock released').to.equal(false);
    expect(state.latest).to.equal(state.published[1]);
    const [first, second] = state.published.map((id) => join(destDir, id));
    expect((await readdir(second!)).sort()).to.include.members(['config', 'database.dir', 'database.dir.SHA256SUMS', 'repository', 'repository.SHA256SUMS', 'snapshot.json']);
    // Every file of the copy is listed with its sha256, the way sha256sum -c reads it.
    const sums = (await readFile(join(second!, 'repository.SHA256SUMS'), 'utf8')).trim().split('\n');
    const [, record] = await records();
    expect(sums).to.have.length(record!.repository!.files!);
    expect(record!.repository!.files).to.equal(await countFiles(join(p.profile.repositoryPath)));
    const somePath = sums[0]!.split('  ')[1]!;
    expect((await stat(join(first!, somePath))).ino, 'unchanged file hard-linked').to.equal((await stat(join(second!, somePath))).ino);
    expect(await sha256File(join(second!, somePath))).to.deep.include({ sha256: sums[0]!.split('  ')[0] });
    expect(await staged(), 'staging emptied').to.deep.equal([]);
  });

  it('tar strategy: list, verify and check work there; a corrupted artefact is caught', async () => {
    const file = await manifest('repository: { strategy: tar }');
    await runOk(file);
    const [record] = await records();
    expect(record!.artefacts.map((a) => a.path)).to.include.members(['config/config.json', 'database.dump.zst', 'repository.tar.zst']);
    const list = await backplan(['list', file]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.contain(record!.id).and.to.match(/verified/);
    const check = await backplan(['check', file, '--max-age', '1h']);
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    const verify = await backplan(['verify', file]);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(verify.stdout).to.match(/ok/);
    const artefact = `${record!.id}/repository.tar.zst`;
    const bytes = (await store.read(destDir, artefact))!;
    bytes[bytes.length >> 1] ^= 0xff;
    await store.write(destDir, artefact, bytes);
    const broken = await backplan(['verify', file]);
    expect(broken.code).to.equal(1);
    expect(broken.stdout).to.match(/repository\.tar\.zst: sha256 .* does not match/);
    expect(broken.stderr).not.to.match(NO_STACK);
    // --fast compares sizes only (no download from object storage): a flipped byte passes, a truncation does not.
    const fast = await backplan(['verify', file, record!.id, '--fast']);
    expect(fast.stdout).to.match(/sizes only/);
    expect(await backplan(['list', file]).then((r) => r.stdout), 'a fast pass does not clear a failed re-hash').to.match(/damaged/);
    await store.write(destDir, artefact, bytes.subarray(0, bytes.length - 1));
    const truncated = await backplan(['verify', file, record!.id, '--fast']);
    expect(truncated.code).to.equal(1);
    expect(truncated.stdout).to.match(/repository\.tar\.zst: size \d+ does not match the recorded \d+/);
  });

  it('applies retention there and never prunes a pinned snapshot', async () => {
    const file = await manifest('repository: { strategy: tar }\nretention: { keepLast: 1 }');
    await runOk(file);
    const [first] = (await store.state(destDir)).published;
    const pin = await backplan(['pin', file, first!]);
    expect(pin.code, pin.stderr).to.equal(0);
    await sleepToNextSecond();
    await runOk(file);
    await sleepToNextSecond();
    await runOk(file);
    const state = await store.state(destDir);
    expect(state.published, 'the pinned first and the newest').to.have.length(2);
    expect(state.published[0]).to.equal(first);
    expect(await backplan(['unpin', file, first!]).then((r) => r.code)).to.equal(0);
    const prune = await backplan(['prune', file]);
    expect(prune.code, prune.stderr).to.equal(0);
    expect((await store.state(destDir)).published).to.deep.equal([state.published[1]]);
  });

  it('a held lock makes a second run exit 75, --wait-lock waits for it, a dead holder on this host is taken over', async () => {
    const file = await manifest('repository: { strategy: tar }');
    // A live process whose argv names backplan's CLI, as a run's does.
    const sleeper = spawnHolder('backplan');
    try {
      await store.write(destDir, '.lock', sleeper.lock());
      const locked = await backplan(['run', file]);
      expect(locked.code, locked.stderr).to.equal(75);
      expect(locked.stderr).to.contain(`process ${sleeper.pid}`);
      expect((await store.state(destDir)).lock, 'the holder keeps its lock').to.equal(true);
    } finally {
      await sleeper.stop();
    }
    // --wait-lock polls the lock: a live holder that lets go after a second is waited for.
    const holder = spawnHolder('backplan');
    const held = holder.lock();
    await store.write(destDir, '.lock', held);
    const waiting = spawnCli(['run', file, '--wait-lock', '60s'], { cwd: p.dir, mark: p.dir, env: env() });
    await waiting.waitFor(/waiting up to 1m00s for .*\.lock, held by process \d+/, 30_000);
    await store.remove(destDir, '.lock');
    await holder.stop();
    const waited = await waiting.exited;
    expect(waited.code, waited.stderr).to.equal(0);
    await sleepToNextSecond();
    await store.write(destDir, '.lock', held);
    const takeover = await runOk(file);
    expect(takeover.stderr).to.match(/taking over the lock/);
    expect((await store.state(destDir)).lock).to.equal(false);
  });

  it('kill -9 mid-run (mid-upload where artefacts stream) leaves only a partial there; the next run clears it and any staging', async () => {
    const file = await manifest(`repository: { strategy: ${copying} }`);
    // pg_dump waits on this lock, so the kill lands mid-run however fast the machine is.
    const blocker = await connectTo(p.db.server, p.db.name);
    // A CLI killed with SIGKILL cannot remove its scratch (the ssh control folder); this test does.
    // A short name: under a long TMPDIR ssh would put its socket in /tmp.
    const killedScratch = await mkdtemp(join(tmpdir(), 'bp-'));
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE db_dblog IN ACCESS EXCLUSIVE MODE');
      const run = spawnCli(['run', file], { cwd: p.dir, mark: p.dir, env: { ...env(), TMPDIR: killedScratch } });
      await run.waitFor(/start db-dump/);
      await new Promise((r) => setTimeout(r, 300));
      run.child.kill('SIGKILL');
      await run.exited;
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
      await rm(killedScratch, { recursive: true, force: true });
    }
    // The run's rclone daemon goes with it (rclone-destination.test.ts shows an idle one does too).
    expect(await leftRclone(p.dir), 'no rclone outlives the killed run').to.deep.equal([]);
    const after = await store.state(destDir);
    expect(after.published).to.deep.equal([]);
    expect(after.partial, 'the .partial- made by the lock step').to.have.length(1);
    expect(after.lock, 'the dead run still holds the lock').to.equal(true);
    const next = await runOk(file);
    expect(next.stderr).to.match(/taking over the lock/);
    expect(next.stderr).to.match(kind.renames ? /removing .*\.partial-.*left by an interrupted run/ : /removing .*left by an interrupted run/);
    if (kind.stages) expect(next.stderr).to.match(/staged by an interrupted run/);
    expect(await staged(), 'staging emptied').to.deep.equal([]);
    const state = await store.expectSound(destDir);
    expect(state.published).to.have.length(1);
    expect(state.partial).to.deep.equal([]);
  });

  it('an unreachable destination fails the run at its lock step: exit 1, the place named, what to check, no stack', async () => {
    const unreachable = kind.unreachable(p.dir);
    const file = await writeManifest(p, 'unreachable.yaml', 'repository: { strategy: tar }', { destination: unreachable.spec });
    const result = await cli(['run', file], { env: unreachable.env });
    expect(result.code, result.stderr).to.equal(1);
    expect(result.stderr).to.match(/step lock/);
    for (const says of unreachable.says) expect(result.stderr).to.match(says);
    expect(result.stderr).not.to.match(NO_STACK);
  });

  it('runs from a long TMPDIR (ssh puts its control socket where the name fits) and leaves nothing there', async () => {
    const file = await manifest('repository: { strategy: tar }');
    const longTemp = join(p.dir, 'a temp folder with a long path'.padEnd(72, '-'));
    await mkdir(longTemp);
    const result = await cli(['run', file], { env: { ...env(), TMPDIR: longTemp } });
    expect(result.code, result.stderr).to.equal(0);
    expect(await readdir(longTemp)).to.deep.equal([]);
  });

  it('never lets the destination path reach a shell as code', async () => {
    destDir = join(p.dir, `it's $(touch pwned) ; touch pwned2`);
    destination = kind.spec(destDir);
    const file = await manifest(`repository: { strategy: ${copying} }`);
    await runOk(file);
    const state = await store.expectSound(destDir);
    expect(state.published).to.have.length(1);
    for (const where of [p.dir, process.env.HOME ?? '/root', '/']) {
      expect(await exists(join(where, 'pwned')), where).to.equal(false);
      expect(await exists(join(where, 'pwned2')), where).to.equal(false);
    }
  });

  it('restore and verify --restore-test read the snapshot from there: files byte-identical, database equal, scratch copy gone', async () => {
    const file = await manifest('repository: { strategy: tar }');
    await runOk(file);
    const name = `${p.db.name}_restored`;
    const dry = await backplan(['restore', file, 'latest', '--to', join(p.dir, 'restored'), '--database', name, '--dry-run']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.contain((await records())[0]!.id);
    expect(await fetchedCopies(), 'a dry run copies nothing').to.deep.equal([]);
    try {
      const restored = await backplan(['restore', file, 'latest', '--to', join(p.dir, 'restored'), '--database', name]);
      expect(restored.code, restored.stderr).to.equal(0);
      if (kind.stages) expect(restored.stderr).to.match(/restore: copying .*(127\.0\.0\.1|rclone:).* to /);
      expect(await fileHashes(join(p.dir, 'restored', 'repository'))).to.deep.equal(await fileHashes(p.profile.repositoryPath));
      expect(await databaseText(p.db.server, name)).to.equal(await databaseText(p.db.server, p.db.name));
    } finally {
      await dropDatabase(p.db.server, name);
    }
    const tested = await backplan(['verify', file, '--restore-test']);
    expect(tested.code, tested.stderr).to.equal(0);
    expect(tested.stdout).to.contain('restore test passed');
    expect(await fetchedCopies(), 'fetched copies deleted').to.deep.equal([]);
  });

  it('refuses the rsync strategy where it needs a filesystem the destination lacks: at validate, positioned, naming the strategies that work', async function () {
    if (kind.rsync) this.skip();
    const file = await manifest('repository: { strategy: rsync }');
    const validate = await backplan(['validate', file]);
    expect(validate.code, validate.stdout + validate.stderr).to.equal(2);
    expect(validate.stderr).to.match(/backup\.yaml:\d+:\d+: repository\.strategy rsync needs a filesystem/).and.to.match(/use tar or incremental/);
    const run = await backplan(['run', file]);
    expect(run.code).to.equal(2);
    expect(await store.state(destDir), 'nothing written').to.deep.include({ published: [], partial: [], lock: false });
    const tar = await backplan(['validate', await manifest('repository: { strategy: tar }', 'tar.yaml')]);
    expect(tar.code, tar.stderr).to.equal(0);
  });

  it('keeps credentials out of every argv, log line, plan and stored metadata', async function () {
    const secrets = Object.entries(env()).filter(([k, v]) => /SECRET|PASS/.test(k) && v).map(([, v]) => v!);
    if (secrets.length === 0) this.skip();
    const file = await manifest('repository: { strategy: tar }');
    const plan = await backplan(['plan', file, '--format', 'json']);
    expect(plan.code, plan.stderr).to.equal(0);
    const { result: run, argvs } = await argvsWhile(() => backplan(['run', file, '--json']));
    expect(run.code, run.stderr).to.equal(0);
    expect(argvs.filter((a) => a[0]?.endsWith('rclone')), 'rclone runs were seen').to.not.deep.equal([]);
    const [record] = await records();
    const stored = await Promise.all(['.last-run.json', 'latest', `${record!.id}/snapshot.json`, `${record!.id}/config/config.json`].map((f) => store.read(destDir, f)));
    const texts = { plan: plan.stdout, events: run.stdout, log: run.stderr, argv: argvs.map((a) => a.join(' ')).join('\n'), stored: stored.map(String).join('\n') };
    for (const secret of secrets) {
      for (const [where, text] of Object.entries(texts)) expect(text, where).not.to.contain(secret);
    }
  });

  /** The rclone processes of this test still alive a moment after its run died. */
  async function leftRclone(mark: string): Promise<string[]> {
    const deadline = Date.now() + 2000;
    for (;;) {
      const left = (await processesOf(mark)).filter((q) => /(^|\/)rclone /.test(q.cmdline)).map((q) => q.cmdline);
      if (left.length === 0 || Date.now() > deadline) return left;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Whatever is left in the staging folder (kinds that stage only). */
  async function staged(): Promise<string[]> {
    const staging = join(p.dir, 'staging');
    const left: string[] = [];
    for (const dest of await readdir(staging).catch(() => [] as string[])) {
      left.push(...(await readdir(join(staging, dest))).filter((n) => n !== 'fetched'));
    }
    return left;
  }

  async function fetchedCopies(): Promise<string[]> {
    const staging = join(p.dir, 'staging');
    const copies: string[] = [];
    for (const dest of await readdir(staging).catch(() => [] as string[])) {
      copies.push(...(await readdir(join(staging, dest, 'fetched')).catch(() => [] as string[])));
    }
    return copies;
  }

  // AiiDA 2.x packs (a delta carries pack tails) and 1.x node folders (a delta is a tar of paths).
  for (const layout of ['disk-objectstore', 'aiida-1'] as const) it(`incremental strategy, ${layout} layout: a full and an incremental there; list, verify, check, pin, prune; restore reads the chain and rebuilds the last state`, async () => {
    const packed = layout === 'disk-objectstore';
    // Its own database: the one beforeEach made already holds a profile.
    const chainDb: TestDatabase = { server: p.db.server, name: await createDatabase(p.db.server, 'sshincr') };
    const incr = await incrementalProfile(chainDb, { layout, nodes: 60, packed });
    try {
      const chainDir = join(incr.dir, 'backups');
      const file = join(incr.dir, 'backup.yaml');
      const yaml = [
        'version: 1',
        'name: incr-test',
        'profile:',
        `  aiida: { config: ${JSON.stringify(incr.profile.configPath)}, profile: ${JSON.stringify(incr.profile.profileName)} }`,
        `destination: ${JSON.stringify(kind.spec(chainDir))}`,
        'repository: { strategy: incremental, incremental: { margin: 1m } }',
        'database: { format: directory, compression: gzip }',
        // The incremental depends on the full: retention must keep both.
        'retention: { keepLast: 1 }',
      ];
      await writeFile(file, yaml.join('\n') + '\n');
      const env = kind.env(incr.dir);
      expect((await cli(['run', file], { env })).code).to.equal(0);
      await addNodes(incr.profile, { server: chainDb.server, database: chainDb.name, count: 10, packed });
      await touchNodes(incr.profile, { server: chainDb.server, database: chainDb.name, count: 4 });
      await sleepToNextSecond();
      const second = await cli(['run', file], { env });
      expect(second.code, second.stderr).to.equal(0);
      const state = await store.expectSound(chainDir);
      expect(state.published.map((id) => id.slice(-4)), 'the full kept by prune: the incremental needs it').to.deep.equal(['full', 'incr']);
      const list = await cli(['list', file], { env });
      expect(list.code, list.stderr).to.equal(0);
      for (const id of state.published) expect(list.stdout).to.contain(id);
      const verify = await cli(['verify', file, '--all'], { env });
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
      expect(verify.stdout.match(/ ok /g), verify.stdout).to.have.length(2);
      const check = await cli(['check', file, '--max-age', '1h'], { env });
      expect(check.code, check.stdout + check.stderr).to.equal(0);
      // A pin lives beside the snapshot there: list shows it, unpin takes it away; prune keeps the chain.
      const [full] = state.published;
      const listed = async () => (await cli(['list', file], { env })).stdout.split('\n').find((line) => line.startsWith(full!)) ?? '';
      expect((await cli(['pin', file, full!], { env })).code).to.equal(0);
      expect(await listed()).to.match(/ pinned\s*$/);
      expect((await cli(['unpin', file, full!], { env })).code).to.equal(0);
      expect(await listed()).not.to.match(/pinned/);
      const prune = await cli(['prune', file], { env });
      expect(prune.code, prune.stderr).to.equal(0);
      expect((await store.expectSound(chainDir)).published).to.deep.equal(state.published);
      const name = `${chainDb.name}_restored`;
      try {
        const restored = await cli(['restore', file, 'latest', '--to', join(incr.dir, 'restored'), '--database', name], { env });
        expect(restored.code, restored.stderr).to.equal(0);
        expect(await expectRestoredMatchesDatabase(chainDb, incr, join(incr.dir, 'restored', 'repository'))).to.be.greaterThan(0);
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

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
  return n;
}

async function sleepToNextSecond(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
}

