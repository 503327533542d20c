/**
 * `backplan run` when things go wrong: SIGKILL at any moment, SIGINT/SIGTERM mid-dump and
 * mid-copy, a destination lock held by someone else. Real PostgreSQL, pg_dump, tar and zstd,
 * the real binary as a child process.
 *
 * BACKPLAN_FAULT_TRIALS (default 28: with the two fixed points, 30 kills) sets how many random SIGKILL points are tried besides the
 * fixed ones; BACKPLAN_FAULT_SEED (default 20261122) makes them reproducible: each is a fraction
 * of a run, counted from its first step line, and each trial checks from the run's own output that
 * the kill landed between its "start lock" and its end.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { connectTo } from '../src/demo/cluster.js';
import { acquireLock, releaseLock } from '../src/record/lock.js';
import { openDestination } from '../src/destination/registry.js';
import { snapshotId } from '../src/record/layout.js';
import { destinationState, exists, expectOnlySoundSnapshots, fabricateSnapshot } from './support/destination.js';
import type { DestinationState } from './support/destination.js';
import { spawnHolder } from './support/lock-holder.js';
import { writeManifest } from './support/manifests.js';
import { useDatabase } from './support/pg.js';
import { killLeftovers, processesOf, seededRandom, settledProcesses, spawnCli } from './support/procs.js';
import type { Exited, SpawnedCli } from './support/procs.js';
import { makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';
import { slowTarPath, wrappedToolPath } from './support/tools.js';
import { waitUntil } from './support/wait.js';

const TRIALS = Number(process.env.BACKPLAN_FAULT_TRIALS ?? 28);
const SEED = Number(process.env.BACKPLAN_FAULT_SEED ?? 20261122);
const NO_STACK = /^\s+at /m;
/** BACKPLAN_FAULT_VERBOSE=1 prints what the user saw in each fault and in the run after it. */
const show = (label: string, text: string) => {
  if (process.env.BACKPLAN_FAULT_VERBOSE) process.stderr.write(`\n----- ${label}\n${text.trimEnd()}\n`);
};

/** pg_dump (its application_name) is running, blocked on a table lock in `database`: mid-dump. */
async function dumpIsWaiting(client: pg.Client, database: string): Promise<boolean> {
  const { rows } = await client.query(
    "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'",
    [database],
  );
  return rows.length > 0;
}

describe('backplan run under faults', function () {
  this.timeout(180_000);
  const db = useDatabase('faults');
  let p: TestProfile;
  /** level 19 over 1000 nodes' files: the copy takes longer than the dump. */
  let slow: string;
  /** The same profile and destination at level 3: the quick "next run". */
  let quick: string;

  before(async () => {
    p = await makeProfile(db, { nodes: 1000, extra: 'repository: { strategy: tar, tar: { level: 19 } }' });
    slow = p.manifest;
    quick = await writeManifest(p, 'quick.yaml', 'repository: { strategy: tar, tar: { level: 3 } }');
  });
  after(async () => {
    if (p) await killLeftovers(p.dir);
    await p?.cleanup();
  });
  // Whatever a killed run left running (pg_dump, tar, zstd in their own process groups).
  afterEach(async () => {
    if (p) await killLeftovers(p.dir);
  });

  const start = (manifest: string, args: string[] = [], env?: NodeJS.ProcessEnv): SpawnedCli =>
    spawnCli(['run', manifest, ...args], { cwd: p.dir, mark: p.dir, env });

  /** The run after a fault: exit 0, stale lock taken over, partials cleared, all sound. */
  async function expectRecovery(before: { lock: boolean; partial: string[] }, killedPid: number | undefined): Promise<string> {
    const next = await start(quick).exited;
    show('the next run', next.stderr);
    expect(next.code, next.stderr).to.equal(0);
    if (before.lock && killedPid !== undefined) {
      expect(next.stderr).to.match(new RegExp(`taking over the lock of process ${killedPid}\\b.*no longer running`));
    }
    for (const partial of before.partial) expect(next.stderr).to.include(`removing ${join(p.destination, partial)}`);
    const after = await expectOnlySoundSnapshots(p.destination);
    expect(after.partial, 'partials left after the next run').to.deep.equal([]);
    expect(after.lock, 'lock left after the next run').to.equal(false);
    return next.stderr;
  }

  describe('kill -9', () => {
    const random = seededRandom(SEED);
    /** Of the shortest run seen: a kill aimed later could miss a run that happens to be quicker still. */
    const AIM_WITHIN = 0.85;
    /** A random trial kills at a seeded fraction of the way through a run (timed below), counted from its first step line. */
    const points: { name: string; at: RegExp | number }[] = [
      { name: 'after it printed "start db-dump"', at: /start db-dump/ },
      { name: 'after it printed "start finalize"', at: /start finalize/ },
      ...Array.from({ length: TRIALS }, (_, i) => {
        const fraction = random() * AIM_WITHIN;
        return { name: `at a random moment (seed ${SEED}, trial ${i + 1}: ${Math.round(fraction * 100)}% into the run)`, at: fraction };
      }),
    ];
    /** The shortest run of `slow` seen, from its "start lock" line to its "run ok" line (their timestamps). */
    let runMs = Infinity;
    /** A kill that missed (the run had ended) is re-aimed at the same fraction of the quicker run, this many times in all. */
    const ATTEMPTS = 3;
    const lineTime = (stderr: string, line: RegExp) => Date.parse(new RegExp(`^(\\S+)${line.source}`, 'm').exec(stderr)?.[1] ?? 'NaN');
    const RUN_ENDED = / run (ok|failed|interrupted|locked) in /;

    before(async () => {
      for (let i = 0; i < 3; i++) {
        const timed = await start(slow).exited;
        expect(timed.code, timed.stderr).to.equal(0);
        runMs = Math.min(runMs, lineTime(timed.stderr, RUN_ENDED) - lineTime(timed.stderr, / start lock /));
      }
      expect(runMs, 'a timed run').to.be.within(1, 600_000);
    });

    /** Starts `slow` and SIGKILLs it at `point`; for a random point, re-aims while the kill lands after the run ended. */
    async function killMidRun(point: RegExp | number): Promise<{ run: SpawnedCli; killed: Exited; aimed: string }> {
      for (let attempt = 1; ; attempt++) {
        const run = start(slow);
        let aimed = '';
        if (point instanceof RegExp) {
          await run.waitFor(point);
        } else {
          await run.waitFor(/ start lock /);
          const delay = Math.round(point * runMs);
          aimed = ` (attempt ${attempt}: aimed ${delay}ms after "start lock", of a ${runMs}ms run)`;
          await Promise.race([sleep(delay), run.exited]);
        }
        run.child.kill('SIGKILL');
        const killed = await run.exited;
        const missed = killed.signal !== 'SIGKILL' || RUN_ENDED.test(killed.stderr);
        if (!missed || typeof point !== 'number' || attempt === ATTEMPTS) return { run, killed, aimed };
        show(`missed${aimed}`, killed.stderr);
        runMs = Math.min(runMs, lineTime(killed.stderr, RUN_ENDED) - lineTime(killed.stderr, / start lock /));
      }
    }

    for (const point of points) {
      it(`leaves nothing complete-looking ${point.name}, and the next run recovers`, async () => {
        const { run, killed, aimed } = await killMidRun(point.at);
        show(`killed ${point.name}${aimed}`, killed.stderr + `\n(left running: ${(await processesOf(p.dir)).map((x) => x.cmdline).join('; ') || 'nothing'})`);
        // The kill landed mid-run: after the run's first step began, before it said how it ended.
        expect(killed.signal, `the run exited before the kill${aimed}:\n${killed.stderr}`).to.equal('SIGKILL');
        expect(killed.stderr, `the kill landed after the run started${aimed}`).to.match(/ start lock /);
        expect(killed.stderr, `the kill landed before the run ended${aimed}`).not.to.match(RUN_ENDED);
        const state = await expectOnlySoundSnapshots(p.destination);
        if (!/ start unlock /.test(killed.stderr)) expect(state.lock, 'the killed run held the lock').to.equal(true);
        if (point.at instanceof RegExp) {
          expect(state.partial, 'the killed run left its .partial-').to.have.length.greaterThan(0);
        }
        await expectRecovery(state, run.pid);
      });
    }
  });

  describe('SIGINT and SIGTERM', () => {
    let blocker: pg.Client | undefined;
    let watcher: pg.Client | undefined;
    afterEach(async () => {
      await blocker?.end().catch(() => undefined);
      await watcher?.end().catch(() => undefined);
      blocker = watcher = undefined;
    });

    /** Holds an ACCESS EXCLUSIVE lock on a table pg_dump must read: the dump waits until released. */
    async function blockDump(): Promise<void> {
      blocker = await connectTo(db.server, db.name);
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE db_dblog IN ACCESS EXCLUSIVE MODE');
      watcher = await connectTo(db.server, db.name);
    }

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const where of ['mid-dump', 'mid-copy'] as const) {
        const code = signal === 'SIGTERM' ? 143 : 130;
        it(`${signal} ${where}: exit ${code}, children gone, snapshot left .partial, lock released, always-hooks run`, async () => {
          const marker = join(p.dir, `after-always-${signal}-${where}`);
          const manifest = await writeManifest(
            p,
            `signal-${signal}-${where}.yaml`,
            ['repository: { strategy: tar, tar: { level: 3 } }', `hooks: { after: [{ run: [touch, ${JSON.stringify(marker)}], always: true }] }`].join('\n'),
          );
          const before = await destinationState(p.destination);
          let run: SpawnedCli;
          if (where === 'mid-dump') {
            await blockDump();
            run = start(manifest);
            await run.waitFor(/start db-dump/);
            await waitUntil('pg_dump waiting for the blocked table', () => dumpIsWaiting(watcher!, db.name), 10_000);
          } else {
            run = start(manifest, [], { PATH: await slowTarPath(p.dir) });
            await run.waitFor(/done db-dump/);
            const tar = (await processesOf(p.dir)).filter((x) => /\btar\b.*--create/.test(x.cmdline));
            expect(tar, 'tar is still copying').to.have.length.greaterThan(0);
          }
          const sentAt = Date.now();
          run.child.kill(signal);
          const exited = await run.exited;
          const tookMs = Date.now() - sentAt;
          show(`${signal} ${where} (exit ${exited.code} after ${tookMs}ms)`, exited.stderr + exited.stdout);
          expect(exited.code, exited.stderr).to.equal(code);
          expect(exited.stderr).to.match(/interrupted/);
          expect(exited.stderr).not.to.match(NO_STACK);
          expect(tookMs, 'exit after the signal').to.be.lessThan(8000);
          expect(await processesOf(p.dir), `processes left after exit ${code}`).to.deep.equal([]);
          await blocker?.query('ROLLBACK');
          const after = await expectOnlySoundSnapshots(p.destination);
          expect(after.published, 'no new complete snapshot').to.deep.equal(before.published);
          expect(after.partial, 'the interrupted snapshot stays .partial-').to.have.length(1);
          expect(after.lock, 'lock released').to.equal(false);
          expect(await exists(marker), 'the always after-hook ran').to.equal(true);
          const next = await expectRecovery(after, undefined);
          expect(next).not.to.match(/taking over the lock/);
        });
      }
    }
  });

  describe('SIGINT twice (an impatient Ctrl-C)', () => {
    let blocker: pg.Client | undefined;
    let watcher: pg.Client | undefined;
    afterEach(async () => {
      await blocker?.end().catch(() => undefined);
      await watcher?.end().catch(() => undefined);
      blocker = watcher = undefined;
    });

    it('mid-dump: exits 130 at once, leaves no process behind, and the next run recovers', async () => {
      blocker = await connectTo(db.server, db.name);
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE db_dblog IN ACCESS EXCLUSIVE MODE');
      watcher = await connectTo(db.server, db.name);
      const run = start(quick);
      await run.waitFor(/start db-dump/);
      await waitUntil('pg_dump waiting for the blocked table', () => dumpIsWaiting(watcher!, db.name), 10_000);
      run.child.kill('SIGINT');
      await sleep(20);
      run.child.kill('SIGINT');
      const exited = await run.exited;
      show('SIGINT twice mid-dump', exited.stderr);
      expect(exited.code, exited.stderr).to.equal(130);
      const left = await settledProcesses(p.dir, 5000);
      expect(left, 'processes left after a double SIGINT').to.deep.equal([]);
      await blocker.query('ROLLBACK');
      const after = await expectOnlySoundSnapshots(p.destination);
      await expectRecovery(after, after.lock ? run.pid : undefined);
    });
  });

  /**
   * Runs `manifest` with `tool` first on PATH sleeping, sends SIGINT while that tool runs, and
   * expects exit 130 within 3 s, nothing left running, the snapshot left .partial-, no new one
   * published and the lock released.
   */
  async function expectPromptInterrupt(o: { manifest: string; destination: string; tool: string; during: RegExp; label: string }): Promise<DestinationState> {
    const path = await wrappedToolPath(p.dir, `slow-${o.tool}`, o.tool, { prelude: 'sleep 10' });
    const slowTool = join(p.dir, `slow-${o.tool}-bin`, o.tool);
    const before = await destinationState(o.destination);
    const run = start(o.manifest, [], { PATH: path });
    await run.waitFor(o.during);
    await waitUntil(`the slow ${o.tool} running`, async () => (await processesOf(p.dir)).some((x) => x.cmdline.includes(slowTool)), 20_000);
    const sentAt = Date.now();
    run.child.kill('SIGINT');
    const exited = await run.exited;
    show(`SIGINT ${o.label}`, exited.stderr);
    expect(exited.code, exited.stderr).to.equal(130);
    expect(Date.now() - sentAt, `exit soon after the signal, not after ${o.tool}`).to.be.lessThan(3000);
    expect(await processesOf(p.dir)).to.deep.equal([]);
    const after = await expectOnlySoundSnapshots(o.destination);
    expect(after.published, 'no snapshot published by an interrupted run').to.deep.equal(before.published);
    expect(after.partial).to.have.length(1);
    expect(after.lock).to.equal(false);
    return after;
  }

  describe('SIGINT while finalizing', () => {
    it('before the rename: exit 130 and the snapshot stays .partial-, as the exit code says', async () => {
      // `sync` sleeps, so that the signal lands while finalize flushes the snapshot. A directory
      // dump: publish syncs the filesystem (syncfs) for files pg_dump wrote unsynced.
      const directoryDump = await writeManifest(p, 'directory-dump.yaml', 'repository: { strategy: tar, tar: { level: 3 } }\ndatabase: { format: directory }');
      const after = await expectPromptInterrupt({ manifest: directoryDump, destination: p.destination, tool: 'sync', during: /start finalize/, label: 'during finalize' });
      await expectRecovery(after, undefined);
    });
  });

  describe('SIGINT while an rsync copy is checksummed', () => {
    it('stops sha256sum at once: exit 130, nothing left running, the snapshot .partial-', async () => {
      // `sha256sum` sleeps: the signal lands while SHA256SUMS is being written.
      const destination = join(p.dir, 'backups-rsync-sums');
      const rsync = await writeManifest(p, 'rsync-sums.yaml', 'repository: { strategy: rsync }', { destination });
      await expectPromptInterrupt({ manifest: rsync, destination, tool: 'sha256sum', during: /start repository/, label: 'while checksumming' });
    });
  });

  describe('the destination lock', () => {
    let holder: ReturnType<typeof spawn> | undefined;
    let lockDest: string;
    let lockManifest: string;
    let beforeRan: string;
    let afterRan: string;
    before(async () => {
      lockDest = join(p.dir, 'backups-lock');
      beforeRan = join(p.dir, 'lock-before-hook-ran');
      afterRan = join(p.dir, 'lock-after-hook-ran');
      lockManifest = await writeManifest(
        p,
        'lock.yaml',
        [
          'repository: { strategy: tar, tar: { level: 3 } }',
          // As `verdi daemon stop` / `verdi daemon start, always: true` would be.
          `hooks: { before: [{ run: [touch, ${JSON.stringify(beforeRan)}] }], after: [{ run: [touch, ${JSON.stringify(afterRan)}], always: true }] }`,
        ].join('\n'),
        { destination: lockDest },
      );
    });
    beforeEach(async () => {
      await rm(lockDest, { recursive: true, force: true });
      await mkdir(lockDest, { recursive: true });
      await rm(beforeRan, { force: true });
      await rm(afterRan, { force: true });
    });
    afterEach(() => {
      holder?.kill('SIGKILL');
      holder = undefined;
    });

    async function holdLock(pid: number, startedAt: string): Promise<void> {
      await writeFile(join(lockDest, '.lock'), JSON.stringify({ pid, host: hostname(), startedAt, job: 'other-job' }) + '\n');
    }

    it('exits 75 naming the live holder and its start time, and leaves its lock alone', async () => {
      holder = spawnHolder('backplan').child;
      const startedAt = new Date().toISOString();
      await holdLock(holder.pid!, startedAt);
      const run = await spawnCli(['run', lockManifest], { cwd: p.dir, mark: p.dir }).exited;
      show('lock held by a live process', run.stderr);
      expect(run.code, run.stderr).to.equal(75);
      expect(run.stderr).to.include(`process ${holder.pid}`);
      expect(run.stderr).to.include(startedAt);
      expect(run.stderr).not.to.match(NO_STACK);
      const state = await destinationState(lockDest);
      expect(state.lock).to.equal(true);
      expect(state.published).to.deep.equal([]);
      expect(state.partial).to.deep.equal([]);
      // Its before-hooks never ran, so neither may its always after-hooks: restarting the daemon
      // in the middle of the holder's backup.
      expect(await exists(beforeRan), 'before-hook ran').to.equal(false);
      expect(await exists(afterRan), 'always after-hook ran').to.equal(false);
    });

    it('SIGINT while waiting for the lock: exit 130 at once, no hook run, the holder\'s lock untouched', async () => {
      holder = spawnHolder('backplan').child;
      await holdLock(holder.pid!, new Date().toISOString());
      const run = spawnCli(['run', lockManifest, '--wait-lock', '1m'], { cwd: p.dir, mark: p.dir });
      await run.waitFor(new RegExp(`lock: waiting up to 1m00s for .*held by process ${holder.pid} `));
      const sentAt = Date.now();
      run.child.kill('SIGINT');
      const exited = await run.exited;
      show('SIGINT while waiting for the lock', exited.stderr);
      expect(exited.code, exited.stderr).to.equal(130);
      expect(Date.now() - sentAt).to.be.lessThan(3000);
      expect(exited.stderr).not.to.match(NO_STACK);
      expect(await exists(beforeRan), 'before-hook ran').to.equal(false);
      expect(await exists(afterRan), 'always after-hook ran').to.equal(false);
      const state = await destinationState(lockDest);
      expect(state.lock).to.equal(true);
      expect(JSON.parse(await readFile(join(lockDest, '.lock'), 'utf8'))).to.include({ pid: holder.pid });
    });

    it('with --wait-lock 1m waits for a holder that goes away while it waits, takes its lock over and succeeds', async () => {
      holder = spawnHolder('backplan').child;
      await holdLock(holder.pid!, new Date().toISOString());
      const pid = holder.pid!;
      const run = spawnCli(['run', lockManifest, '--wait-lock', '1m'], { cwd: p.dir, mark: p.dir });
      await run.waitFor(new RegExp(`lock: waiting up to 1m00s for .*held by process ${pid} `));
      holder.kill('SIGKILL');
      const exited = await run.exited;
      show('--wait-lock 1m, holder gone while it waits', exited.stderr);
      expect(exited.code, exited.stderr).to.equal(0);
      // Said in that order: it waited, then took over the lock of the holder it had waited for.
      expect(exited.stderr).to.match(new RegExp(`lock: waiting up to 1m00s .*held by process ${pid} [^]*taking over the lock of process ${pid}\\b`));
      const state = await expectOnlySoundSnapshots(lockDest);
      expect(state.published).to.have.length(1);
      expect(state.lock).to.equal(false);
      expect(await exists(beforeRan), 'before-hook ran').to.equal(true);
      expect(await exists(afterRan), 'after-hook ran').to.equal(true);
    });

    it('with --wait-lock 2s gives up on a holder that stays, exit 75 saying it waited', async () => {
      holder = spawnHolder('backplan').child;
      await holdLock(holder.pid!, new Date().toISOString());
      const started = Date.now();
      const run = await spawnCli(['run', lockManifest, '--wait-lock', '2s'], { cwd: p.dir, mark: p.dir }).exited;
      expect(run.code, run.stderr).to.equal(75);
      expect(Date.now() - started).to.be.greaterThan(2000);
      show('--wait-lock 2s, holder stays', run.stderr);
      expect(run.stderr).to.match(/after waiting 2s/);
    });

    it('lets two runs started in the same second with --wait-lock 1m run one after the other, both succeeding', async () => {
      // Snapshot ids have one-second resolution: a waiter that does not plan afresh reuses the
      // holder's id. The premise, checked from what the runs print: one waited for the other,
      // and began waiting in the very second the holder's snapshot is named after.
      let exits: Exited[] = [];
      for (let attempt = 1; ; attempt++) {
        await rm(lockDest, { recursive: true, force: true });
        await mkdir(lockDest, { recursive: true });
        // Started just after a second begins, both are likely to plan within it.
        while (Date.now() % 1000 > 50) await sleep(5);
        const runs = [0, 1].map(() => spawnCli(['run', lockManifest, '--wait-lock', '1m'], { cwd: p.dir, mark: p.dir }));
        exits = await Promise.all(runs.map((r) => r.exited));
        for (const x of exits) show(`--wait-lock 1m, two at once (attempt ${attempt})`, x.stderr);
        for (const x of exits) expect(x.code, x.stderr).to.equal(0);
        const waited = exits.filter((x) => /lock: waiting up to 1m00s/.test(x.stderr));
        const holderId = exits.filter((x) => !waited.includes(x)).map((x) => / run test-job: snapshot (\S+) /.exec(x.stderr)?.[1])[0];
        const waitAt = waited.map((x) => /^(\S+) lock: waiting up to/m.exec(x.stderr)![1]!)[0];
        if (waited.length === 1 && waitAt !== undefined && snapshotId(new Date(waitAt), 'full') === holderId) break;
        expect(attempt, `the runs never shared a second (last: ${waited.length} waited, at ${waitAt}, holder ${holderId})`).to.be.lessThan(6);
      }
      const state = await expectOnlySoundSnapshots(lockDest);
      expect(state.published, 'two snapshots').to.have.length(2);
      expect(state.partial).to.deep.equal([]);
      expect(state.lock).to.equal(false);
      // The one that waited planned after the other had finished: its snapshot is the newer one.
      expect(state.latest).to.equal(state.published[1]);
      const waiter = exits.find((x) => /lock: waiting/.test(x.stderr))!;
      expect(waiter.stderr).to.include(` run test-job: snapshot ${state.published[1]} `);
    });

    it('a run in the same second as the last snapshot waits for a free second instead of failing', async () => {
      // Snapshot ids name the second; a run right after a quick one (or after waiting for its
      // lock) must not plan an id that already exists.
      const now = Date.now();
      const taken = [0, 1, 2].map((s) => snapshotId(new Date(now + s * 1000), 'full'));
      for (const id of taken) await fabricateSnapshot(lockDest, id);
      const run = spawnCli(['run', lockManifest], { cwd: p.dir, mark: p.dir });
      // The premise, from the lock the run writes just before it looks for a free second: it
      // took the lock in a second that a snapshot is already named after.
      let locked: { pid: number; startedAt: string } | undefined;
      await waitUntil('the run\'s .lock', async () => {
        const text = await readFile(join(lockDest, '.lock'), 'utf8').catch(() => '');
        locked = text.includes(`"pid":${run.pid},`) ? JSON.parse(text) : undefined;
        return locked !== undefined;
      });
      expect(taken, `the run took its lock at ${locked!.startedAt}`).to.include(snapshotId(new Date(locked!.startedAt), 'full'));
      const r = await run.exited;
      expect(r.code, r.stderr).to.equal(0);
      const state = await expectOnlySoundSnapshots(lockDest);
      expect(state.published).to.have.length(4);
      expect(state.latest! > taken.at(-1)!, `${state.latest} after ${taken.at(-1)}`).to.equal(true);
    });

    it('lets only one of several runs take over the same stale lock at once', async () => {
      // Each contender calls acquireLock at the same instant, holds the lock 300 ms and records
      // when it entered and left; no two of those intervals may overlap.
      const lockModule = new URL('../src/record/lock.js', import.meta.url).href;
      const registry = new URL('../src/destination/registry.js', import.meta.url).href;
      const script = `
        import { acquireLock, releaseLock } from ${JSON.stringify(lockModule)};
        import { openDestination } from ${JSON.stringify(registry)};
        import { appendFileSync } from 'node:fs';
        const [dir, log, at] = process.argv.slice(1);
        const path = openDestination(dir);
        const now = () => performance.timeOrigin + performance.now();
        while (Date.now() < Number(at)) {}
        try {
          await acquireLock(path, 'contender', { waitMs: 0 });
          const entered = now();
          await new Promise((r) => setTimeout(r, 300));
          appendFileSync(log, JSON.stringify({ pid: process.pid, entered, left: now() }) + '\\n');
          await releaseLock(path);
        } catch (e) {
          if (e.code !== 'LOCKED') throw e;
        }`;
      const log = join(lockDest, 'contenders.log');
      for (let round = 0; round < 3; round++) {
        const dead = spawn('true', [], { stdio: 'ignore' });
        await new Promise((r) => dead.on('close', r));
        await holdLock(dead.pid!, `round ${round}`);
        await writeFile(log, '');
        const at = Date.now() + 800;
        const contenders = Array.from({ length: 6 }, () =>
          new Promise<number | null>((resolve) =>
            spawn(process.execPath, ['--input-type=module', '-e', script, lockDest, log, String(at)], { stdio: 'inherit' }).on('close', resolve),
          ),
        );
        expect(await Promise.all(contenders)).to.deep.equal([0, 0, 0, 0, 0, 0]);
        const held = (await readFile(log, 'utf8'))
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { pid: number; entered: number; left: number })
          .sort((a, b) => a.entered - b.entered);
        expect(held.length, 'somebody took the stale lock over').to.be.greaterThan(0);
        for (let i = 1; i < held.length; i++) {
          expect(held[i]!.entered, `round ${round}: ${held[i]!.pid} entered while ${held[i - 1]!.pid} held the lock`).to.be.greaterThan(held[i - 1]!.left);
        }
        expect((await destinationState(lockDest)).lock, 'released').to.equal(false);
        expect((await readdir(lockDest)).filter((n) => n.startsWith('.lock')), 'no takeover leftovers').to.deep.equal([]);
      }
    });

    it('takes over a stale lock naming our own pid (pids repeat across container restarts)', async () => {
      const path = openDestination(lockDest);
      await holdLock(process.pid, '2026-11-20T03:00:00.000Z');
      const warnings: string[] = [];
      const me = await acquireLock(path, 'test-job', { waitMs: 0, warn: (m) => warnings.push(m) });
      expect(me.startedAt).not.to.equal('2026-11-20T03:00:00.000Z');
      expect(warnings.join('\n')).to.match(/taking over the lock of process \d+ \(started 2026-11-20T03:00:00.000Z\)/);
      // Asked again, this process finds the lock its own (run takes it before planning, then its lock step).
      expect(await acquireLock(path, 'test-job', { waitMs: 0 })).to.deep.equal(me);
      await releaseLock(path);
      expect((await destinationState(lockDest)).lock).to.equal(false);
    });

    it('takes over the lock of a dead process with a warning', async () => {
      const dead = spawn('true', [], { stdio: 'ignore' });
      await new Promise((r) => dead.on('close', r));
      await holdLock(dead.pid!, '2026-11-21T03:00:00.000Z');
      const run = await spawnCli(['run', lockManifest], { cwd: p.dir, mark: p.dir }).exited;
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stderr).to.match(new RegExp(`taking over the lock of process ${dead.pid} \\(started 2026-11-21T03:00:00.000Z\\)`));
      expect((await destinationState(lockDest)).lock).to.equal(false);
    });
  });
});
