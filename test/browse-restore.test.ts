/**
 * Browse and restore parts: `backplan ls` lists what a snapshot's repository holds (tar, rsync,
 * an incremental chain with a delta; local and over ssh), and `restore --include` brings back
 * exactly the matched paths — byte for byte, nothing else, a name that is not UTF-8 included —
 * leaving the configuration and the database alone unless --with-database says otherwise.
 */
import { expect } from 'chai';
import { lstat, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { connectTo, createDatabase, dropDatabase } from '../src/demo/cluster.js';
import { addNodes } from '../src/demo/profile/index.js';
import { nodeFolder } from '../src/incremental/layout.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';
import { writeManifest } from './support/manifests.js';
import { databaseExists } from './support/pg.js';
import type { TestDatabase } from './support/pg.js';
import { cli, cliPath, makeProfile, useProfile } from './support/profile.js';
import { treeState } from './support/tree.js';

const LATIN1 = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.txt')]);

/** A DSS-like projects folder beside the node folders: what a user wants "one project folder back" of. */
async function writeProjects(repo: string): Promise<void> {
  await mkdir(join(repo, 'projects', 'alpha', 'sub'), { recursive: true });
  await mkdir(join(repo, 'projects', 'beta'), { recursive: true });
  await writeFile(join(repo, 'projects', 'alpha', 'a.txt'), 'alpha a\n');
  await writeFile(join(repo, 'projects', 'alpha', 'sub', 'b.bin'), Buffer.alloc(5000, 7), { mode: 0o600 });
  await writeFile(Buffer.concat([Buffer.from(join(repo, 'projects', 'alpha') + '/'), LATIN1]), 'latin-1 name');
  await symlink('a.txt', join(repo, 'projects', 'alpha', 'link'));
  await writeFile(join(repo, 'projects', 'beta', 'c.txt'), 'beta c\n');
}

/** The entries of tree `root` under `under` (displayed paths relative to `root`). */
async function subtree(root: string, under: string): Promise<Record<string, unknown>> {
  const all = await treeState(root);
  return Object.fromEntries(Object.entries(all).filter(([k]) => k === under || k.startsWith(`${under}/`)));
}

function expectLine(lines: string[], re: RegExp): void {
  expect(lines.some((l) => re.test(l)), `a line matching ${re}`).to.equal(true);
}

/** Runs `backplan ARGS | true`: the reader closes the pipe before reading; the exit code and stderr. */
function closedEarly(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.destroy();
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** The `fetched` folders (where `fetch` copies a remote snapshot; made on first use, kept) under a test's staging. */
async function fetchedCopies(dir: string): Promise<string[]> {
  const staging = join(dir, 'staging');
  const found: string[] = [];
  for (const hash of await readdir(staging).catch(() => [] as string[])) {
    if (await lstat(join(staging, hash, 'fetched')).catch(() => undefined)) found.push(join(hash, 'fetched'));
  }
  return found;
}

async function lastNodeUuid(db: TestDatabase): Promise<string> {
  const client = await connectTo(db.server, db.name);
  try {
    return (await client.query<{ uuid: string }>('SELECT uuid::text AS uuid FROM db_dbnode ORDER BY id DESC LIMIT 1')).rows[0]!.uuid;
  } finally {
    await client.end();
  }
}

for (const kind of DESTINATION_KINDS) {
  describe(`browse and restore parts: ${kind.name}`, function () {
    this.timeout(240_000);
    const p = useProfile('parts', { layout: 'aiida-1', nodes: 10, fresh: true });
    useKind(kind);

    beforeEach(async () => {
      await writeProjects(p.profile.repositoryPath);
    });

    const backplan = (args: string[]) => cli(args, { env: kind.env(p.dir) });
    const manifest = (strategy: string) => writeManifest(p, 'parts.yaml', `repository: { strategy: ${strategy} }`, { destination: kind.spec(join(p.dir, 'backups')) });
    async function runOk(file: string): Promise<void> {
      const result = await backplan(['run', file]);
      expect(result.code, result.stderr).to.equal(0);
    }

    /** Restores with --include into a fresh folder; the restored repository must equal the source under `expected` and hold nothing else. */
    async function expectPartialRestore(file: string, include: string[], expected: string[], options: string[] = []): Promise<string> {
      const target = join(p.dir, 'restored');
      const spare = `${p.db.name}_never`;
      const result = await backplan(['restore', file, 'latest', '--to', target, '--database', spare, ...include.flatMap((i) => ['--include', i]), ...options]);
      expect(result.code, result.stderr).to.equal(0);
      const repo = join(target, 'repository');
      const got = await treeState(repo);
      for (const under of expected) expect(await subtree(repo, under), under).to.deep.equal(await subtree(p.profile.repositoryPath, under));
      const parents = new Set(expected.flatMap((e) => e.split('/').map((_, i, parts) => parts.slice(0, i).join('/')).filter(Boolean)));
      const extra = Object.keys(got).filter((k) => k !== '.' && !parents.has(k) && !expected.some((e) => k === e || k.startsWith(`${e}/`)));
      expect(extra, 'nothing else restored').to.deep.equal([]);
      expect(await readdir(target), 'no configuration restored').to.deep.equal(['repository']);
      expect(await databaseExists(p.db.server, spare), 'database untouched').to.equal(false);
      return target;
    }

    for (const strategy of ['tar', 'rsync']) {
      it(`${strategy}: ls lists the repository (text, --json, PATH) and --include restores one project folder`, async function () {
        if (strategy === 'rsync' && !kind.rsync) this.skip();
        const file = await manifest(strategy);
        await runOk(file);
        const ls = await backplan(['ls', file, 'latest']);
        expect(ls.code, ls.stderr).to.equal(0);
        const lines = ls.stdout.trim().split('\n');
        expectLine(lines, /^-rw-r--r-- +8 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ projects\/alpha\/a\.txt$/);
        expectLine(lines, /^-rw------- +5000 \S+ projects\/alpha\/sub\/b\.bin$/);
        expectLine(lines, /^l\S+ +\d+ \S+ projects\/alpha\/link -> a\.txt$/);
        expectLine(lines, /^d\S+ +\d+ \S+ projects\/beta$/);
        expectLine(lines, / projects\/alpha\/caf\\xe9\.txt$/);
        expect(lines.length, 'every node folder listed too').to.be.above(20);

        const json = await backplan(['ls', file, 'latest', 'projects/alpha/', '--json']);
        expect(json.code, json.stderr).to.equal(0);
        const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; pathBytes?: string; type: string; size: number; target?: string });
        expect(rows.map((r) => r.path).sort()).to.deep.equal(['projects/alpha', 'projects/alpha/a.txt', 'projects/alpha/caf\\xe9.txt', 'projects/alpha/link', 'projects/alpha/sub', 'projects/alpha/sub/b.bin']);
        const latin = rows.find((r) => r.pathBytes !== undefined)!;
        expect(Buffer.from(latin.pathBytes!, 'base64')).to.deep.equal(Buffer.concat([Buffer.from('projects/alpha/'), LATIN1]));
        expect(rows.find((r) => r.path === 'projects/alpha/link')).to.include({ type: 'symlink', target: 'a.txt' });
        expect(rows.find((r) => r.path === 'projects/alpha/sub/b.bin')).to.include({ type: 'file', size: 5000 });

        const unknown = await backplan(['ls', file, 'latest', 'projects/gamma']);
        expect(unknown.code).to.equal(1);
        expect(unknown.stderr).to.match(/snapshot \S+Z-full holds nothing at projects\/gamma/);
        expect(unknown.stderr).to.contain(`backplan ls ${file} `);
        expect(unknown.stderr).not.to.match(/\n\s+at /);

        const early = await closedEarly(['ls', file, 'latest'], kind.env(p.dir));
        expect(early, '`ls | head` ends quietly').to.deep.equal({ code: 0, stderr: '' });
        // Every remote kind reads in place (ssh by a remote cat, rclone through its daemon).
        if (kind.stages) expect(await fetchedCopies(p.dir), 'ls copies nothing here').to.deep.equal([]);

        await expectPartialRestore(file, ['projects/alpha'], ['projects/alpha']);
      });
    }

    it('tar: globs select files, zero matches are refused with the target untouched, --with-database brings the database', async () => {
      const file = await manifest('tar');
      await runOk(file);
      const target = join(p.dir, 'restored');
      await expectPartialRestore(file, ['projects/*/c.txt', '**/caf*'], ['projects/beta/c.txt', `projects/alpha/caf\\xe9.txt`]);

      const none = join(p.dir, 'none');
      const refused = await backplan(['restore', file, 'latest', '--to', none, '--include', 'projects/zeta/**']);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/no path of the repository of \S+ matches --include projects\/zeta\/\*\*; nothing was changed/);
      expect(refused.stderr).to.contain('backplan ls');
      expect(await lstat(none).catch(() => undefined), 'target not created').to.equal(undefined);

      const dry = await backplan(['restore', file, 'latest', '--to', join(p.dir, 'dry'), '--include', 'projects/beta', '--dry-run']);
      expect(dry.code, dry.stderr).to.equal(0);
      // Counted in place, on every kind.
      expect(dry.stdout).to.match(/include +"projects\/beta": 2 entries match \(1 files, 7 bytes\)/);

      const name = `${p.db.name}_withdb`;
      try {
        const withDb = await backplan(['restore', file, 'latest', '--to', join(p.dir, 'withdb'), '--include', 'projects/beta', '--with-database', '--database', name]);
        expect(withDb.code, withDb.stderr).to.equal(0);
        expect(await databaseExists(p.db.server, name), 'database restored under --with-database').to.equal(true);
      } finally {
        await dropDatabase(p.db.server, name);
      }
      expect(await readdir(target)).to.deep.equal(['repository']);
    });

    it('incremental: ls merges the full and a delta; --include restores paths from both', async () => {
      const file = await manifest('incremental');
      await runOk(file);
      await new Promise((r) => setTimeout(r, 1100));
      await addNodes(p.profile, { server: p.db.server, database: p.db.name, count: 2 });
      const newest = nodeFolder(await lastNodeUuid(p.db));
      await runOk(file);
      const list = await backplan(['list', file, '--json']);
      expect((JSON.parse(list.stdout) as { kind: string }[]).map((r) => r.kind)).to.deep.equal(['full', 'incr']);

      const ls = await backplan(['ls', file, 'latest', '--json']);
      expect(ls.code, ls.stderr).to.equal(0);
      const paths = ls.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { path: string }).path);
      expect(paths).to.include('projects/alpha/a.txt');
      expect(paths.some((q) => q.startsWith(`${newest}/`)), 'a file of the delta listed').to.equal(true);
      expect(new Set(paths).size, 'each path once').to.equal(paths.length);
      const fromFull = await backplan(['ls', file, 'latest', newest]);
      expect(fromFull.code, fromFull.stderr).to.equal(0);

      await expectPartialRestore(file, [newest, 'projects/alpha'], [newest, 'projects/alpha']);
    });

    for (const strategy of ['tar', 'incremental']) {
      it(`${strategy}, encrypted with age: ls and --include need the identity and then read the archives`, async () => {
        const identity = join(p.dir, 'identity.txt');
        execFileSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
        const recipient = execFileSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).trim();
        const file = await writeManifest(p, 'sealed.yaml', `repository: { strategy: ${strategy} }\nencryption: { age: { recipients: [${JSON.stringify(recipient)}] } }`, { destination: kind.spec(join(p.dir, 'backups')) });
        await runOk(file);
        const refused = await backplan(['ls', file, 'latest']);
        expect(refused.code).to.equal(1);
        expect(refused.stderr).to.contain('--identity');
        expect(refused.stderr).not.to.match(/\n\s+at /);
        const ls = await backplan(['ls', file, 'latest', 'projects/alpha', '--identity', identity]);
        expect(ls.code, ls.stderr).to.equal(0);
        expectLine(ls.stdout.split('\n'), /^-rw-r--r-- +8 \S+ projects\/alpha\/a\.txt$/);
        await expectPartialRestore(file, ['projects/alpha'], ['projects/alpha'], ['--identity', identity]);
      });
    }

    it('incremental, disk-objectstore: packs are listed from the records and restored only when their path matches', async () => {
      const storeDb = { server: p.db.server, name: await createDatabase(p.db.server, 'store') };
      const store = await makeProfile(storeDb, { layout: 'disk-objectstore', nodes: 6 });
      try {
        const file = await writeManifest(store, 'store.yaml', 'repository: { strategy: incremental }', { destination: kind.spec(join(store.dir, 'backups')) });
        const run = () => cli(['run', file], { env: kind.env(store.dir) });
        expect((await run()).code).to.equal(0);
        await new Promise((r) => setTimeout(r, 1100));
        await addNodes(store.profile, { server: p.db.server, database: storeDb.name, count: 3, packed: true });
        const second = await run();
        expect(second.code, second.stderr).to.equal(0);
        const ls = await cli(['ls', file, 'latest', 'container/packs', '--json'], { env: kind.env(store.dir) });
        expect(ls.code, ls.stderr).to.equal(0);
        const rows = ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; type: string; size: number | null });
        const pack = join(store.profile.repositoryPath, 'container', 'packs', '0');
        expect(rows.find((r) => r.path === 'container/packs/0')).to.include({ type: 'file', size: (await lstat(pack)).size });
        const all = await cli(['ls', file, 'latest'], { env: kind.env(store.dir) });
        expect(all.stdout).to.match(/ container\/packs\.idx\n/);

        const target = join(store.dir, 'restored');
        const restored = await cli(['restore', file, 'latest', '--to', target, '--include', 'container/packs'], { env: kind.env(store.dir) });
        expect(restored.code, restored.stderr).to.equal(0);
        const got = await treeState(join(target, 'repository'));
        expect(Object.keys(got).sort()).to.deep.equal(['.', 'container', 'container/packs', 'container/packs/0']);
        expect(got['container/packs/0']!.sha256).to.equal((await treeState(store.profile.repositoryPath))['container/packs/0']!.sha256);
      } finally {
        await store.cleanup();
        await dropDatabase(p.db.server, storeDb.name);
      }
    });
  });
}
