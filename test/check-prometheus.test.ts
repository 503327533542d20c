/**
 * `backplan check --format prometheus`, read as Prometheus reads it: node_exporter's textfile
 * collector serves the file long after it was written, under the scrape target's own `job`
 * and `instance` labels. Linted by the real `promtool check metrics` where it is installed.
 */
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './support/profile.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text format's samples (the job names here need no label escapes). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$/.exec(line);
      expect(m, line).to.not.equal(null);
      const labels = Object.fromEntries([...m![2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m![1]!, labels, value: Number(m![3]) };
    });
}

function value(all: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found, `${name}${JSON.stringify(labels)}`).to.have.length(1);
  return found[0]!.value;
}

const SERIES = [
  'backplan_check_ok',
  'backplan_check_timestamp_seconds',
  'backplan_max_age_seconds',
  'backplan_last_run_timestamp_seconds',
  'backplan_last_run_success',
  'backplan_last_run_duration_seconds',
  'backplan_last_success_timestamp_seconds',
  'backplan_restorable_snapshot_timestamp_seconds',
  'backplan_restorable_snapshot_size_bytes',
  'backplan_snapshots',
];

const promtool = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v promtool'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** `promtool check metrics` on the text: its exit code and whatever it said. */
function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr });
    });
    child.stdin!.end(text);
  });
}

describe('check --format prometheus', function () {
  this.timeout(60_000);
  let dir: string;
  let manifest: string;
  const backups = () => join(dir, 'backups');
  before(function () {
    if (!promtool) console.log('      (promtool not installed: the textfile is checked without it; .ci/run installs it)');
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-prom-'));
    manifest = join(dir, 'prom-job.yaml');
    await writeFile(manifest, `version: 1\nname: prom-job\nprofile: { explicit: { repository: ${dir}, database: { name: db } } }\ndestination: ${backups()}\n`);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function snapshot(completedAt: Date, artefacts: object[]): Promise<string> {
    const id = `${completedAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '')}-full`;
    await mkdir(join(backups(), id), { recursive: true });
    const record = { format: 'backplan-snapshot/1', id, kind: 'full', job: 'prom-job', completedAt: completedAt.toISOString(), artefacts, steps: [] };
    await writeFile(join(backups(), id, 'snapshot.json'), JSON.stringify(record));
    return id;
  }

  async function prometheus(): Promise<{ code: number; text: string; all: Sample[] }> {
    const r = await cli(['check', manifest, '--max-age', '26h', '--format', 'prometheus']);
    expect(r.stderr).to.equal('');
    if (promtool) expect(await promtoolCheck(r.stdout), 'promtool check metrics').to.deep.equal({ code: 0, output: '' });
    return { code: r.code, text: r.stdout, all: samples(r.stdout) };
  }

  it('labels the job backup_job, never job or instance (the scrape target\'s, renamed exported_job)', async () => {
    const { all } = await prometheus();
    for (const s of all) {
      expect(s.labels, s.name).to.have.property('backup_job', 'prom-job');
      expect(s.labels, s.name).not.to.have.any.keys('job', 'instance');
    }
  });

  it('exports every series even with no snapshot and no run: 0 for never', async () => {
    const { code, all } = await prometheus();
    expect(code).to.equal(1);
    expect([...new Set(all.map((s) => s.name))]).to.deep.equal(SERIES);
    expect(value(all, 'backplan_check_ok')).to.equal(0);
    expect(value(all, 'backplan_max_age_seconds')).to.equal(26 * 3600);
    for (const name of ['backplan_last_run_timestamp_seconds', 'backplan_last_success_timestamp_seconds', 'backplan_restorable_snapshot_timestamp_seconds', 'backplan_restorable_snapshot_size_bytes']) {
      expect(value(all, name), name).to.equal(0);
    }
    for (const state of ['complete', 'damaged', 'broken-chain', 'partial']) expect(value(all, 'backplan_snapshots', { state }), state).to.equal(0);
    expect(value(all, 'backplan_check_timestamp_seconds')).to.be.closeTo(Date.now() / 1000, 60);
  });

  it('exports times, not ages: the newest restorable snapshot, its size, the last run and the last success', async () => {
    const completedAt = new Date(Date.now() - 3 * 3600_000);
    await snapshot(completedAt, [
      { path: 'database.dump', bytes: 1000, sha256: 'a'.repeat(64) },
      { path: 'repository.SHA256SUMS', bytes: 50, sha256: 'b'.repeat(64), covers: { folder: 'repository', files: 2, bytes: 4000 } },
    ]);
    await mkdir(join(backups(), '.partial-2099-01-01T000000Z-full'));
    const lastRun = {
      status: 'failed',
      startedAt: new Date(Date.now() - 600_000).toISOString(),
      endedAt: new Date(Date.now() - 590_000).toISOString(),
      durationMs: 10_250,
      error: 'step db-dump: pg_dump exited with code 1',
      lastSuccessAt: new Date(Date.now() - 2 * 3600_000).toISOString(),
    };
    await writeFile(join(backups(), '.last-run.json'), JSON.stringify(lastRun));
    const { code, all } = await prometheus();
    expect(code).to.equal(1);
    expect(all.map((s) => s.name).filter((name) => /age/.test(name) && name !== 'backplan_max_age_seconds'), 'an age is stale once written').to.deep.equal([]);
    expect(value(all, 'backplan_check_ok')).to.equal(0);
    expect(value(all, 'backplan_restorable_snapshot_timestamp_seconds')).to.equal(completedAt.getTime() / 1000);
    expect(value(all, 'backplan_restorable_snapshot_size_bytes')).to.equal(5050);
    expect(value(all, 'backplan_last_run_timestamp_seconds')).to.equal(Date.parse(lastRun.endedAt) / 1000);
    expect(value(all, 'backplan_last_run_success')).to.equal(0);
    expect(value(all, 'backplan_last_run_duration_seconds')).to.equal(10.25);
    expect(value(all, 'backplan_last_success_timestamp_seconds')).to.equal(Date.parse(lastRun.lastSuccessAt) / 1000);
    expect(value(all, 'backplan_snapshots', { state: 'complete' })).to.equal(1);
    expect(value(all, 'backplan_snapshots', { state: 'partial' })).to.equal(1);
  });

  it('reads the last success from a .last-run.json written before it was recorded', async () => {
    await snapshot(new Date(Date.now() - 3600_000), []);
    const endedAt = new Date(Date.now() - 3000_000).toISOString();
    await writeFile(join(backups(), '.last-run.json'), JSON.stringify({ status: 'ok', endedAt }));
    const { code, all } = await prometheus();
    expect(code).to.equal(0);
    expect(value(all, 'backplan_check_ok')).to.equal(1);
    expect(value(all, 'backplan_last_run_success')).to.equal(1);
    expect(value(all, 'backplan_last_success_timestamp_seconds')).to.equal(Date.parse(endedAt) / 1000);
    expect(value(all, 'backplan_last_run_duration_seconds')).to.equal(0);
  });
});
