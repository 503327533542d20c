/**
 * What `validate` says of rclone destinations, without a remote: a destination string that
 * names no configured remote (a connection string, which would carry credentials) and the rsync
 * strategy, which needs a filesystem. And the one rclone daemon a process keeps, on a local-type
 * remote: it serves every call and dies with its process. The destination itself is tested
 * against real servers by destination-conformance and destination-scenarios.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MARK_VAR, processesOf } from './support/procs.js';
import { cli, repoRoot } from './support/profile.js';

describe('rclone destinations at validate', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-rclone-validate-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function validate(destination: string, strategy: string): Promise<{ code: number | null; stderr: string }> {
    const file = join(dir, 'm.yaml');
    const text = [
      'version: 1',
      'name: offsite',
      'profile:',
      '  explicit: { config: [/etc/hostname], repository: /tmp, database: { host: localhost, port: 5432, name: db, user: u } }',
      `destination: ${JSON.stringify(destination)}`,
      `repository: { strategy: ${strategy} }`,
      '',
    ].join('\n');
    await writeFile(file, text);
    return cli(['validate', file]);
  }

  it('refuses a connection string at the destination key, without repeating it', async () => {
    const r = await validate('rclone::s3,access_key_id=AK,secret_access_key=hush-canary:bucket/x', 'tar');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/m\.yaml:5:14: the destination is no rclone:REMOTE:PATH/).and.to.match(/connection strings .* are refused/);
    expect(r.stderr).not.to.contain('hush-canary');
  });

  it('refuses rsync for an rclone remote at repository.strategy, naming tar and incremental', async () => {
    const r = await validate('rclone:offsite:bucket/aiida', 'rsync');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/m\.yaml:6:25: repository\.strategy rsync needs a filesystem, which rclone:offsite:bucket\/aiida is not: use tar or incremental/);
    expect(r.stderr).to.match(/hint: set repository\.strategy to tar or incremental/);
  });

  it('takes tar and incremental there, and rsync elsewhere', async () => {
    expect((await validate('rclone:offsite:bucket/aiida', 'tar')).code).to.equal(0);
    expect((await validate('/mnt/backups', 'rsync')).code).to.equal(0);
    expect((await validate('backup@host:/srv/b', 'rsync')).code).to.equal(0);
  });
});

describe('the rclone daemon of a process', () => {
  let dir: string;
  beforeEach(async function () {
    try {
      execFileSync('rclone', ['version'], { stdio: 'ignore' });
    } catch {
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'backplan-rclone-daemon-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const daemons = async () => (await processesOf(dir)).filter((p) => /(^|\/)rclone rcd /.test(p.cmdline));

  it('serves every call of the process, and a kill -9 of the process takes it down (its pdeathsig)', async () => {
    // Idle when the kill lands: nothing but the kernel's parent-death signal can end it.
    const script = [
      `const { openDestination } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist/src/index.js')).href)});`,
      `const d = openDestination('rclone:bplocal:' + process.argv[1]);`,
      `await d.writeText('a', 'x\\n'); await d.readText('a'); await d.names(); await d.stat('a'); await d.removeFile('a');`,
      `console.log('ready'); setInterval(() => undefined, 1000);`,
    ].join('\n');
    const env = { ...process.env, RCLONE_CONFIG_BPLOCAL_TYPE: 'local', [MARK_VAR]: dir };
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, join(dir, 'dest')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      void exited.then(() => reject(new Error('exited before it was ready')));
    });
    expect(await daemons(), 'one daemon for five calls').to.have.length(1);
    child.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 2000;
    while ((await daemons()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await daemons(), 'no rclone outlives its process').to.deep.equal([]);
  });
});
