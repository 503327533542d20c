/**
 * One health model for every command (issue #11): a snapshot is complete, damaged, broken-chain
 * or partial, and `list`, `verify`, `check`, `prune` and `restore` agree on it, per job.
 */
import { expect } from 'chai';
import { mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotEntry } from '../src/destination/types.js';
import { assessSnapshots } from '../src/record/health.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { dailyId, destinationState, fabricateSnapshot } from './support/destination.js';
import { spawnHolder } from './support/lock-holder.js';
import { writeManifest } from './support/manifests.js';
import { cli, useProfile } from './support/profile.js';

const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

describe('snapshot health: one judgement', () => {
  const entry = (id: string, opts: { job?: string; parent?: string; record?: boolean; failedAt?: string; partial?: boolean } = {}): SnapshotEntry => {
    const kind = id.endsWith('incr') ? 'incr' : 'full';
    const record = opts.record === false ? undefined : ({ id, kind, job: opts.job ?? 'a', parent: opts.parent, artefacts: [] } as unknown as SnapshotRecord);
    return {
      id,
      name: opts.partial ? `.partial-${id}` : id,
      dir: `/d/${id}`,
      time: new Date(0),
      kind,
      recorded: record !== undefined && !opts.partial,
      recordFile: !opts.partial,
      record: opts.partial ? undefined : record,
      recordProblem: opts.record === false ? 'snapshot.json is not valid JSON' : undefined,
      pinned: false,
      verification: opts.failedAt ? { failedAt: opts.failedAt, summary: 'x: missing' } : undefined,
    };
  };

  it('tells complete, damaged, broken-chain and partial apart, and leaves other jobs out', () => {
    const states = assessSnapshots(
      [
        entry('1-full'),
        entry('2-incr', { parent: '1-full' }),
        entry('3-full', { failedAt: '2026-11-22T05:00:00Z' }),
        entry('4-incr', { parent: '3-full' }),
        entry('5-incr', { parent: '4-incr' }),
        entry('6-full', { record: false }),
        entry('7-incr', { parent: 'gone-full' }),
        entry('8-full', { partial: true }),
        entry('9-full', { job: 'b' }),
        entry('10-incr', { job: 'a', parent: '9-full' }),
      ],
      'a',
    ).map((s) => [s.id, s.state, s.problem ?? '']);
    expect(states).to.deep.equal([
      ['1-full', 'complete', ''],
      ['2-incr', 'complete', ''],
      ['3-full', 'damaged', 'verify failed at 2026-11-22T05:00:00Z: x: missing'],
      ['4-incr', 'broken-chain', 'its parent 3-full is damaged (verify failed at 2026-11-22T05:00:00Z: x: missing)'],
      ['5-incr', 'broken-chain', 'its parent 4-incr is broken-chain (its parent 3-full is damaged (verify failed at 2026-11-22T05:00:00Z: x: missing))'],
      ['6-full', 'damaged', 'snapshot.json is not valid JSON'],
      ['7-incr', 'broken-chain', 'its parent gone-full is missing'],
      ['8-full', 'partial', 'not a backup: being written, or left by an interrupted run or prune'],
      ['10-incr', 'broken-chain', 'its parent 9-full is missing'],
    ]);
  });

  it('ends a chain that loops', () => {
    const states = assessSnapshots([entry('1-incr', { parent: '2-incr' }), entry('2-incr', { parent: '1-incr' })], 'a');
    expect(states.map((s) => s.state)).to.deep.equal(['broken-chain', 'broken-chain']);
  });
});

describe('snapshot health through the commands', function () {
  this.timeout(120_000);
  const p = useProfile('health', { nodes: 5 });
  // Each test fabricates its own history at an empty destination.
  afterEach(() => rm(p.destination, { recursive: true, force: true }));

  const days = ['2026-11-20', '2026-11-21', '2026-11-22'].map((d) => dailyId(d));
  const flipByte = async (id: string) => {
    const path = join(p.destination, id, 'repository.tar.zst');
    const bytes = await readFile(path);
    bytes[0]! ^= 0xff;
    await writeFile(path, bytes);
  };
  const listJson = async (file = p.manifest) => {
    const r = await cli(['list', file, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as { id: string; state: string; problem?: string; parent?: string }[];
  };

  it('a verify that finds the newest damaged: list says so, latest moves back, prune keepLast 1 keeps the good one', async () => {
    for (const id of days) await fabricateSnapshot(p.destination, id);
    await flipByte(days[2]!);
    const verify = await cli(['verify', p.manifest]);
    // `latest` is the newest restorable: the newest, until this verify finds it damaged.
    expect(verify.code).to.equal(1);
    expect(verify.stdout).to.match(new RegExp(`${days[2]}  repository\\.tar\\.zst: sha256`));
    expect(verify.stderr).to.contain(`${days[2]} (a checksum or file does not match)`).and.not.match(NO_STACK);
    expect((await listJson()).map((s) => [s.id, s.state])).to.deep.equal([
      [days[0], 'complete'],
      [days[1], 'complete'],
      [days[2], 'damaged'],
    ]);
    expect(await readlink(join(p.destination, 'latest'))).to.equal(days[1]);
    const keepLast1 = await writeManifest(p, 'keep1.yaml', 'retention: { keepLast: 1 }');
    const dry = await cli(['prune', keepLast1, '--dry-run']);
    expect(dry.stdout).to.contain(`keep    ${days[1]}: last 1/1`);
    expect(dry.stdout).to.match(new RegExp(`skip    ${days[2]}: damaged: verify failed at .*not counted, not deleted`));
    expect(dry.stdout).to.contain(`would delete ${days[0]}`);
    const prune = await cli(['prune', keepLast1]);
    expect(prune.code, prune.stderr).to.equal(0);
    expect((await destinationState(p.destination)).published).to.deep.equal([days[1], days[2]]);
  });

  it('verify --all names a truncated snapshot.json and the chain that leans on it; restore refuses both', async () => {
    await fabricateSnapshot(p.destination, days[0]!);
    const incr = `${days[1]!.slice(0, -'full'.length)}incr`;
    await fabricateSnapshot(p.destination, incr, { parent: days[0] });
    const text = await readFile(join(p.destination, days[0]!, 'snapshot.json'), 'utf8');
    await writeFile(join(p.destination, days[0]!, 'snapshot.json'), text.slice(0, text.length >> 1));
    await mkdir(join(p.destination, `.partial-${days[2]}`));
    const listed = await listJson();
    expect(listed.map((s) => [s.id, s.state, s.parent])).to.deep.equal([
      [days[0], 'damaged', undefined],
      [incr, 'broken-chain', days[0]],
      [days[2], 'partial', undefined],
    ]);
    const all = await cli(['verify', p.manifest, '--all']);
    expect(all.code).to.equal(1);
    expect(all.stdout).to.match(new RegExp(`${days[0]}  DAMAGED  snapshot.json is not valid JSON`));
    expect(all.stdout).to.contain(`${incr}  BROKEN CHAIN  its parent ${days[0]} is damaged`);
    expect(all.stdout).to.contain(`${days[2]}  partial`);
    expect(all.stderr).to.contain('2 of 3 snapshot(s) cannot be restored').and.not.match(NO_STACK);
    for (const id of [incr, days[0]!]) {
      const restore = await cli(['restore', p.manifest, id, '--to', join(p.dir, 'restored')]);
      expect(restore.code).to.equal(1);
      expect(restore.stderr).to.match(new RegExp(`snapshot ${id} cannot be restored \\((damaged|broken-chain)`));
    }
    const latest = await cli(['restore', p.manifest, 'latest', '--to', join(p.dir, 'restored')]);
    expect(latest.stderr).to.match(/no restorable snapshot of this job/);
  });

  it('check: a damaged newest fails even with a fresh older one; the age reported is the newest restorable', async () => {
    const now = new Date();
    const older = dailyAt(new Date(now.getTime() - 3_600_000));
    const newer = dailyAt(new Date(now.getTime() - 600_000));
    await fabricateSnapshot(p.destination, older);
    await fabricateSnapshot(p.destination, newer);
    await writeFile(join(p.destination, newer, 'snapshot.json'), '{');
    const check = await cli(['check', p.manifest, '--max-age', '26h', '--json']);
    expect(check.code).to.equal(1);
    const report = JSON.parse(check.stdout) as { newest: { id: string }; problems: string[] };
    expect(report.newest.id).to.equal(older);
    expect(report.problems).to.deep.equal([`the newest snapshot ${newer} is damaged: snapshot.json is not valid JSON (${jsonError('{')})`]);
  });

  it('check: a lock held far longer than a run takes fails it, naming the holder', async () => {
    await fabricateSnapshot(p.destination, dailyAt(new Date(Date.now() - 600_000)));
    const holder = spawnHolder('backplan');
    try {
      const startedAt = new Date(Date.now() - 30 * 3_600_000).toISOString();
      await writeFile(join(p.destination, '.lock'), holder.lock(startedAt));
      const check = await cli(['check', p.manifest, '--max-age', '26h']);
      expect(check.code).to.equal(1);
      expect(check.stdout).to.contain(`the destination lock has been held for 1d06h (since ${startedAt}, by process ${holder.pid}`);
      await rm(join(p.destination, '.lock'));
      expect((await cli(['check', p.manifest, '--max-age', '26h'])).code).to.equal(0);
    } finally {
      await holder.stop();
    }
  });

  it('two jobs sharing a destination never see, prune, check or verify each other', async () => {
    const a = await writeManifest(p, 'a.yaml', 'retention: { keepLast: 1 }', { name: 'job-a' });
    const b = await writeManifest(p, 'b.yaml', 'retention: { keepLast: 1 }', { name: 'job-b' });
    const ids = ['2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21'].map((d) => dailyId(d));
    for (const [i, id] of ids.entries()) await fabricateSnapshot(p.destination, id, { job: i % 2 === 0 ? 'job-a' : 'job-b' });
    expect((await listJson(b)).map((s) => s.id)).to.deep.equal([ids[1], ids[3]]);
    const prune = await cli(['prune', b]);
    expect(prune.code, prune.stderr).to.equal(0);
    expect((await destinationState(p.destination)).published).to.deep.equal([ids[0], ids[2], ids[3]]);
    const verifyAll = await cli(['verify', a, '--all']);
    expect(verifyAll.code, verifyAll.stderr).to.equal(0);
    expect(verifyAll.stdout).to.contain(ids[0]).and.contain(ids[2]).and.not.contain(ids[3]!);
  });
});

/** A snapshot id for a time (ids have one-second resolution). */
function dailyAt(time: Date): string {
  return `${time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '')}-full`;
}

function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}
