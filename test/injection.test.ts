import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connectTo, dropDatabase } from '../src/demo/cluster.js';
import { testServer } from './support/pg.js';
import { cli } from './support/profile.js';

/** Every shell metacharacter a manifest value could carry; none may act as syntax or an option. */
const NASTY = `-rf $(touch PWNED) \`touch PWNED\`; touch PWNED | "q" 'q' \\ & > x`;

/** Files an executed `touch PWNED` would have made, in the run's folders or the current one. */
async function findPwned(dir: string): Promise<string[]> {
  const entries = [...(await readdir(dir, { recursive: true })), ...(await readdir(process.cwd()))];
  return entries.filter((entry) => basename(entry) === 'PWNED');
}

describe('manifest values reach commands as literal arguments', function () {
  this.timeout(120_000);

  it('a database named with shell syntax, files named -rf and $(…), nasty excludes and hook arguments', async () => {
    const server = await testServer();
    const dbName = `a;b ${NASTY}`.slice(0, 60);
    const maintenance = await connectTo(server, 'postgres');
    await maintenance.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
    await maintenance.end();
    const dir = await mkdtemp(join(tmpdir(), 'backplan-injection-'));
    try {
      const db = await connectTo(server, dbName);
      await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      await db.query("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) g");
      await db.end();

      const repo = join(dir, `repo ${NASTY}`);
      await mkdir(join(repo, '--help'), { recursive: true });
      for (const name of ['-rf', '$(touch PWNED)', '; touch PWNED', '--checkpoint-action=exec=touch PWNED', 'keep.txt', 'line\nbreak']) {
        await writeFile(join(repo, name), `content of ${JSON.stringify(name)}\n`);
      }
      const hookOut = join(dir, 'hook-arg.txt');
      const manifest = join(dir, 'manifest.yaml');
      await writeFile(
        manifest,
        [
          'version: 1',
          'name: injection',
          'profile:',
          '  explicit:',
          `    repository: ${JSON.stringify(repo)}`,
          `    database: { host: ${JSON.stringify(server.host)}, port: ${server.port}, user: ${JSON.stringify(server.user)}, name: ${JSON.stringify(dbName)} }`,
          `destination: ${JSON.stringify(join(dir, 'backups'))}`,
          'database: { format: plain, compression: none }',
          `repository: { strategy: tar, exclude: [${JSON.stringify(`$(touch PWNED)`)}, ${JSON.stringify('--to-command=touch PWNED')}] }`,
          'hooks:',
          `  before: [{ run: [node, -e, "require('fs').writeFileSync(process.argv[1], process.argv[2])", ${JSON.stringify(hookOut)}, ${JSON.stringify(NASTY)}] }]`,
        ].join('\n'),
      );
      const r = await cli(['run', manifest], { cwd: dir, env: { PGPASSWORD: server.password ?? '' } });
      expect(r.code, r.stderr).to.equal(0);
      expect(await findPwned(dir)).to.deep.equal([]);
      expect(await readFile(hookOut, 'utf8')).to.equal(NASTY);

      const snapshot = join(dir, 'backups', 'latest');
      const listing = execFileSync('tar', ['-tf', join(snapshot, 'repository.tar.zst'), '--zstd'], { encoding: 'utf8' });
      expect(listing).to.contain('./-rf\n');
      expect(listing).to.contain('./--checkpoint-action=exec=touch PWNED\n');
      expect(listing).to.contain('./; touch PWNED\n');
      // The excluded pattern matched the file literally named $(touch PWNED), and nothing ran.
      expect(listing).to.not.contain('./$(touch PWNED)');
      const dump = await readFile(join(snapshot, 'database.sql'), 'utf8');
      expect(dump).to.contain('row 50');
    } finally {
      await dropDatabase(server, dbName);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
