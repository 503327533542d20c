import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, repoRoot } from './support/profile.js';

/** A destination holding one complete snapshot that finished `ageMs` ago. */
async function destinationWithSnapshot(dir: string, ageMs: number): Promise<string> {
  const completedAt = new Date(Date.now() - ageMs);
  const id = `${completedAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '')}-full`;
  await mkdir(join(dir, 'backups', id), { recursive: true });
  const record = { format: 'backplan-snapshot/1', id, kind: 'full', job: 'fresh-job', completedAt: completedAt.toISOString(), artefacts: [], steps: [] };
  await writeFile(join(dir, 'backups', id, 'snapshot.json'), JSON.stringify(record));
  return id;
}

async function manifestFor(dir: string, name = 'fresh-job'): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const yaml = `version: 1\nname: ${name}\nprofile: { explicit: { repository: ${dir}, database: { name: db } } }\ndestination: ${join(dir, 'backups')}\n`;
  await writeFile(file, yaml);
  return file;
}

describe('infra-repo workflow', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-infra-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('validate over a folder reports two manifests sharing a name or a destination, at the later one', async () => {
    for (const f of ['aiida-2x-prod.yaml', 'dss-datadir.yaml']) await copyFile(join(repoRoot, 'manifests', f), join(dir, f));
    const text = (await readFile(join(repoRoot, 'manifests/dss-datadir.yaml'), 'utf8')).replace(/^name: .*$/m, 'name: aiida-2x-prod');
    await writeFile(join(dir, 'zz-copy.yaml'), text);
    const r = await cli(['validate', dir]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/zz-copy\.yaml:\d+:\d+: name "aiida-2x-prod" is also used by .*aiida-2x-prod\.yaml:\d+:\d+/);
    expect(r.stderr).to.match(/zz-copy\.yaml:\d+:\d+: destination ".*" is also used by .*dss-datadir\.yaml:\d+:\d+/);
    expect(r.stderr).to.match(/3 manifests: 1 invalid/);
  });

  it('check exits 0 for a fresh snapshot and 1 naming the snapshot and its age when stale', async () => {
    const id = await destinationWithSnapshot(dir, 2 * 3600_000);
    const manifest = await manifestFor(dir);
    const fresh = await cli(['check', manifest, '--max-age', '26h']);
    expect(fresh.code, fresh.stderr).to.equal(0);
    expect(fresh.stdout).to.contain(id);
    const stale = await cli(['check', manifest, '--max-age', '1h']);
    expect(stale.code).to.equal(1);
    expect(stale.stdout).to.match(new RegExp(`${id} is 2h0\\dm old \\(more than 1h00m\\)`));
    const json = JSON.parse((await cli(['check', manifest, '--max-age', '1h', '--json'])).stdout) as { ok: boolean; newest: { id: string; ageSeconds: number } };
    expect(json.ok).to.equal(false);
    expect(json.newest.id).to.equal(id);
    expect(json.newest.ageSeconds).to.be.within(7190, 7300);
    const prom = await cli(['check', manifest, '--max-age', '1h', '--format', 'prometheus']);
    expect(prom.stdout).to.match(/^backplan_check_ok\{backup_job="fresh-job"\} 0$/m);
    expect(prom.stdout).to.match(/^backplan_restorable_snapshot_timestamp_seconds\{backup_job="fresh-job"\} [\d.]+$/m);
  });

  it('check exits 1 when the last run failed, even with a fresh snapshot, and when there is none', async () => {
    const manifest = await manifestFor(dir);
    const none = await cli(['check', manifest, '--max-age', '26h']);
    expect(none.code).to.equal(1);
    expect(none.stdout).to.contain('no restorable snapshot of fresh-job');
    await destinationWithSnapshot(dir, 60_000);
    const lastRun = { status: 'failed', endedAt: new Date().toISOString(), error: 'step db-dump: pg_dump exited with code 1' };
    await writeFile(join(dir, 'backups', '.last-run.json'), JSON.stringify(lastRun));
    const failed = await cli(['check', manifest, '--max-age', '26h']);
    expect(failed.code).to.equal(1);
    expect(failed.stdout).to.contain('failed: step db-dump: pg_dump exited with code 1');
  });
});
