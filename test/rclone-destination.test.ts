/**
 * What `validate` says of rclone destinations, without a remote: a destination string that
 * names no configured remote (a connection string, which would carry credentials) and the rsync
 * strategy, which needs a filesystem. The destination itself is tested against real servers by
 * destination-conformance and destination-scenarios.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './support/profile.js';

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
