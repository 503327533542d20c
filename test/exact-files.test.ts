/**
 * A repository holding what real ones hold at the edges — names that are not UTF-8 (two that
 * decode to the same text), a newline and a backslash in names, symlinks out of the repository
 * (absolute and `../`), hard links, a sparse file, modes, folder times, the root's own mode —
 * comes back exactly from every strategy and every destination kind: the whole tree compared
 * entry by entry (support/tree.ts), `verify` and `verify --restore-test` pass, and nothing is
 * left behind in the scratch folder.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectTo, dropDatabase } from '../src/demo/cluster.js';
import { addNodes } from '../src/demo/profile/index.js';
import { nodeFolder } from '../src/incremental/layout.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';
import { writeManifest } from './support/manifests.js';
import type { TestDatabase } from './support/pg.js';
import { cli, useProfile } from './support/profile.js';
import { allocatedBytes, treeState } from './support/tree.js';

const SPARSE_SIZE = 256 << 20;
/** More data regions than an old GNU sparse header holds (4): tar writes extension blocks. */
const SPARSE_REGIONS = 10;
const OLD = new Date('2005-06-07T08:09:10Z');

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

/** Writes the edge cases into `dir` (created), then gives every folder in it an old time. */
async function writeEdgeCases(dir: string): Promise<void> {
  await mkdir(join(dir, 'links'), { recursive: true });
  const d = Buffer.from(dir);
  const at = (...name: (string | number[])[]) => Buffer.concat([d, Buffer.from('/'), bytes(...name)]);
  // caf\xe9 and caf\xe8 both decode to "caf\uFFFD": text names would collide.
  await writeFile(at('caf', [0xe9], '.txt'), 'latin-1 e acute');
  await writeFile(at('caf', [0xe8], '.txt'), 'latin-1 e grave');
  await writeFile(at('ünïcode ✓.txt'), 'utf-8');
  await writeFile(at('line\nbreak'), 'newline in the name');
  await writeFile(at('back\\slash'), 'backslash in the name');
  await writeFile(at('big.bin'), randomBytes(2 << 20));
  await symlink('/etc/passwd', at('links/absolute'));
  await symlink('../../../outside/the/repository', at('links/up-and-out'));
  await symlink(bytes('../caf', [0xe9], '.txt'), at('links/to-latin1'));
  await writeFile(at('links/hard-a'), 'one inode, two names');
  await link(at('links/hard-a'), at('links/hard-b'));
  await writeFile(at('run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(at('secret'), 'mode 600', { mode: 0o600 });
  await chmod(at('secret'), 0o600);
  await mkdir(at('private'), { mode: 0o700 });
  await mkdir(at('empty'));
  const sparse = await open(at('sparse.bin'), 'w');
  for (let i = 0; i < SPARSE_REGIONS; i++) await sparse.write(randomBytes(4096), 0, 4096, Math.floor((SPARSE_SIZE / SPARSE_REGIONS) * i));
  await sparse.truncate(SPARSE_SIZE);
  await sparse.close();
  await utimes(at('secret'), OLD, OLD);
  for (const folder of ['private', 'empty', 'links', '']) await utimes(at(folder), OLD, OLD);
}

/** Every folder from `root` down to `path` gets the old time again (after files were added to them). */
async function ageFolders(root: string, path: string): Promise<void> {
  const parts = path.split('/');
  for (let i = parts.length; i >= 0; i--) await utimes(join(root, ...parts.slice(0, i)), OLD, OLD);
}

for (const kind of DESTINATION_KINDS) {
  describe(`exact files: ${kind.name}`, function () {
    this.timeout(240_000);
    const p = useProfile('exact', { layout: 'aiida-1', nodes: 12, fresh: true });
    useKind(kind);

    /**
     * backplan's TMPDIR, checked empty after a restore test: a folder of its own, so that what
     * other test files running beside this one (mocha --parallel) put in /tmp does not count.
     */
    const scratch = () => join(p.dir, 'tmp');

    beforeEach(async () => {
      await chmod(p.profile.repositoryPath, 0o750);
      await mkdir(scratch(), { recursive: true });
    });

    const backplan = (args: string[]) => cli(args, { env: { ...kind.env(p.dir), TMPDIR: scratch() } });
    const manifest = (strategy: string) => writeManifest(p, 'exact.yaml', `repository: { strategy: ${strategy} }`, { destination: kind.spec(join(p.dir, 'backups')) });

    async function runOk(file: string): Promise<void> {
      const result = await backplan(['run', file]);
      expect(result.code, result.stderr).to.equal(0);
    }

    /** Restores latest, compares the tree, then verify and verify --restore-test; no scratch left. */
    async function expectExactRoundTrip(file: string): Promise<void> {
      const repo = p.profile.repositoryPath;
      const scratchBefore = await scratchFolders(scratch());
      const name = `${p.db.name}_restored`;
      const target = join(p.dir, 'restored');
      try {
        const restored = await backplan(['restore', file, 'latest', '--to', target, '--database', name]);
        expect(restored.code, restored.stderr).to.equal(0);
      } finally {
        await dropDatabase(p.db.server, name);
      }
      const [want, got] = [await treeState(repo), await treeState(join(target, 'repository'))];
      for (const path of Object.keys(want)) expect(got[path], path).to.deep.equal(want[path]);
      expect(Object.keys(got).sort()).to.deep.equal(Object.keys(want).sort());
      const sparse = Object.keys(want).find((k) => k.endsWith('sparse.bin'))!;
      expect(await allocatedBytes(join(target, 'repository', sparse)), 'the sparse file stays sparse').to.be.below(1 << 20);
      const verified = await backplan(['verify', file]);
      expect(verified.code, verified.stderr + verified.stdout).to.equal(0);
      const tested = await backplan(['verify', file, '--restore-test']);
      expect(tested.code, tested.stderr + tested.stdout).to.equal(0);
      expect(tested.stdout).to.contain('restore test passed');
      expect(await scratchFolders(scratch()), 'scratch folders removed').to.deep.equal(scratchBefore);
    }

    for (const strategy of ['tar', 'rsync']) {
      it(`${strategy}: names as bytes, links, a sparse file, modes and folder times come back exactly`, async function () {
        if (strategy === 'rsync' && !kind.rsync) this.skip();
        const edge = join(p.profile.repositoryPath, 'edge');
        await writeEdgeCases(edge);
        await ageFolders(p.profile.repositoryPath, 'edge');
        const file = await manifest(strategy);
        await runOk(file);
        await expectExactRoundTrip(file);
      });
    }

    it('incremental: a chain whose delta adds nodes and edge cases restores exactly, folder times included', async () => {
      const first = nodeFolder(await nodeUuid(p.db, 'ASC'));
      await writeEdgeCases(join(p.profile.repositoryPath, first, 'edge'));
      await ageFolders(p.profile.repositoryPath, first);
      const file = await manifest('incremental');
      await runOk(file);
      await new Promise((r) => setTimeout(r, 1100));
      await addNodes(p.profile, { server: p.db.server, database: p.db.name, count: 3 });
      const last = nodeFolder(await nodeUuid(p.db, 'DESC'));
      await writeEdgeCases(join(p.profile.repositoryPath, last, 'edge'));
      await ageFolders(p.profile.repositoryPath, last);
      await runOk(file);
      await expectExactRoundTrip(file);
    });
  });
}

/** The first or the last node's uuid. */
async function nodeUuid(db: TestDatabase, order: 'ASC' | 'DESC'): Promise<string> {
  const client = await connectTo(db.server, db.name);
  try {
    return (await client.query<{ uuid: string }>(`SELECT uuid::text AS uuid FROM db_dbnode ORDER BY id ${order} LIMIT 1`)).rows[0]!.uuid;
  } finally {
    await client.end();
  }
}

async function scratchFolders(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('backplan-verify-') || n.startsWith('backplan-fetch-')).sort();
}
