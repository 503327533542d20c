/**
 * Retention, pins and list against real folders through the real binary: a fabricated history
 * of 60 daily snapshots, `prune --dry-run`, `prune`, `pin`/`unpin`, `list`; and runs that fail
 * (never pruning) or are killed while pruning.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dailyId, daysBetween, destinationState, exists, expectOnlySoundSnapshots, fabricateDailyHistory, fabricateSnapshot } from './support/destination.js';
import { LocalDestination } from '../src/destination/local/local.js';
import { verifySnapshot } from '../src/record/verify.js';
import { writeManifest } from './support/manifests.js';
import { withDatabase } from './support/pg.js';
import { killLeftovers, spawnCli } from './support/procs.js';
import { cli, makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';

const POLICY = 'retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }';

/** What a borg/borgmatic prune keeps of 2026-09-24 … 2026-11-22 under POLICY (see retention.test.ts). */
const SURVIVORS = [
  '2026-11-22',
  '2026-11-21',
  '2026-11-20',
  '2026-11-19',
  '2026-11-18',
  '2026-11-17',
  '2026-11-16',
  '2026-11-15',
  '2026-11-14',
  '2026-11-13',
  '2026-11-08',
  '2026-11-01',
  '2026-10-31',
  '2026-10-25',
  '2026-10-18',
  '2026-09-30',
  '2026-09-24',
].map((d) => dailyId(d));

const NO_STACK = /^\s+at /m;
const BULK_FILES = 3000;

describe('retention on disk', function () {
  this.timeout(120_000);

  describe('prune, pin and list over 60 daily snapshots', () => {
    let dir: string;
    let destination: string;
    let manifest: string;
    let history: string[];

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'backplan-retention-'));
      destination = join(dir, 'backups');
      manifest = join(dir, 'manifest.yaml');
      // prune, pin and list read only the manifest and the destination: the profile need not exist.
      await writeFile(
        manifest,
        [
          'version: 1',
          'name: test-job',
          'profile:',
          '  explicit:',
          `    config: [${JSON.stringify(join(dir, 'config'))}]`,
          `    repository: ${JSON.stringify(join(dir, 'repository'))}`,
          '    database: { host: localhost, port: 5432, name: nothing, user: nobody }',
          `destination: ${JSON.stringify(destination)}`,
          POLICY,
        ].join('\n') + '\n',
      );
      history = await fabricateDailyHistory(destination, '2026-09-24', '2026-11-22');
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('fabricates the history the retention tests reason about', () => {
      expect(history).to.have.length(60);
      expect(history[0]).to.equal('2026-09-24T030000Z-full');
      expect(history.at(-1)).to.equal('2026-11-22T030000Z-full');
    });

    it('prune --dry-run says what would go and why each survivor stays, and deletes nothing', async () => {
      const r = await cli(['prune', manifest, '--dry-run']);
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      const wouldDelete = lines.filter((l) => l.startsWith('would delete '));
      const keep = lines.filter((l) => l.startsWith('keep '));
      expect(wouldDelete).to.have.length(43);
      expect(keep).to.have.length(17);
      expect(keep.map((l) => /^keep\s+(\S+):/.exec(l)![1])).to.have.members(SURVIVORS);
      expect(wouldDelete[0]).to.match(/^would delete 2026-\d\d-\d\dT030000Z-full: not selected by keepLast 3, keepDaily 7, keepWeekly 4, keepMonthly 12$/);
      const reasonOf = (id: string) => keep.find((l) => l.includes(id))!.split(': ').slice(1).join(': ');
      expect(reasonOf(dailyId('2026-11-22'))).to.equal('last 1/3, newest complete snapshot');
      expect(reasonOf(dailyId('2026-11-19'))).to.equal('daily 1/7 (2026-11-19)');
      expect(reasonOf(dailyId('2026-11-08'))).to.equal('weekly 1/4 (2026-W45)');
      expect(reasonOf(dailyId('2026-10-31'))).to.equal('monthly 1/12 (2026-10)');
      expect(reasonOf(dailyId('2026-09-24'))).to.equal('monthly[oldest] 3/12 (2026-09)');
      expect((await destinationState(destination)).published).to.deep.equal(history);
    });

    it('prune keeps exactly the 17 snapshots the rules say', async () => {
      const r = await cli(['prune', manifest]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('deleted '))).to.have.length(43);
      const state = await expectOnlySoundSnapshots(destination);
      expect(state.published).to.deep.equal([...SURVIVORS].sort());
      expect(state.lock, 'prune released its lock').to.equal(false);
      // Applying the same policy again changes nothing.
      expect((await cli(['prune', manifest])).stdout).not.to.match(/^deleted /m);
      expect((await destinationState(destination)).published).to.have.length(17);
    });

    it('never prunes a pinned snapshot; unpin lets retention decide again', async () => {
      const pinned = dailyId('2026-10-05');
      expect(SURVIVORS).not.to.include(pinned);
      const pin = await cli(['pin', manifest, pinned]);
      expect(pin.code, pin.stderr).to.equal(0);
      expect(pin.stdout).to.equal(`pinned ${pinned}\n`);
      const dry = await cli(['prune', manifest, '--dry-run']);
      expect(dry.stdout).to.match(new RegExp(`^keep\\s+${pinned}: pinned$`, 'm'));
      await cli(['prune', manifest]);
      expect((await destinationState(destination)).published).to.deep.equal([...SURVIVORS, pinned].sort());

      const unpin = await cli(['unpin', manifest, pinned]);
      expect(unpin.code, unpin.stderr).to.equal(0);
      expect(unpin.stdout).to.equal(`unpinned ${pinned}\n`);
      await cli(['prune', manifest]);
      expect((await destinationState(destination)).published).to.deep.equal([...SURVIVORS].sort());
    });

    it('pin refuses an unknown or incomplete snapshot with exit 1 and no stack', async () => {
      const unknown = await cli(['pin', manifest, '2026-01-01T030000Z-full']);
      expect(unknown.code).to.equal(1);
      expect(unknown.stderr).to.match(/no snapshot 2026-01-01T030000Z-full/);
      expect(unknown.stderr).not.to.match(NO_STACK);
      await mkdir(join(destination, '.partial-2026-11-23T030000Z-full'));
      const partial = await cli(['pin', manifest, '2026-11-23T030000Z-full']);
      expect(partial.code).to.equal(1);
      expect(partial.stderr).to.match(/is partial and cannot be pinned/);
    });

    it('list shows id, kind, parent, time, size, state and pinned; a .partial- one as partial, saying why', async () => {
      const partialId = '2026-11-23T030000Z-full';
      await mkdir(join(destination, `.partial-${partialId}`));
      await writeFile(join(destination, `.partial-${partialId}`, 'database.dump'), 'half');
      await cli(['pin', manifest, dailyId('2026-11-01')]);
      const r = await cli(['list', manifest]);
      expect(r.code, r.stderr).to.equal(0);
      const [table, problems] = r.stdout.trimEnd().split('\n\n');
      const [header, ...rows] = table!.split('\n');
      expect(header!.split(/\s+/)).to.deep.equal(['id', 'kind', 'parent', 'time', 'size', 'state', 'verified', 'pinned']);
      expect(rows).to.have.length(61);
      expect(problems).to.equal(`${partialId}: partial: not a backup: being written, or left by an interrupted run or prune`);
      const row = (id: string) => rows.find((l) => l.startsWith(id + ' '))!.split(/\s{2,}/);
      const size = `fabricated artefact of ${dailyId('2026-11-22')}\n`.length;
      expect(row(dailyId('2026-11-22'))).to.deep.equal([dailyId('2026-11-22'), 'full', '-', '2026-11-22T03:00:00.000Z', `${size} B`, 'complete', '-']);
      expect(row(dailyId('2026-11-01'))).to.deep.equal([dailyId('2026-11-01'), 'full', '-', '2026-11-01T03:00:00.000Z', `${size} B`, 'complete', '-', 'pinned']);
      expect(row(partialId)).to.deep.equal([partialId, 'full', '-', '2026-11-23T03:00:00.000Z', '-', 'partial', '-']);

      const json = JSON.parse((await cli(['list', manifest, '--json'])).stdout) as { id: string; state: string; pinned: boolean; bytes?: number }[];
      expect(json).to.have.length(61);
      expect(json.find((s) => s.id === partialId)).to.include({ state: 'partial', pinned: false });
      expect(json.find((s) => s.id === dailyId('2026-11-01'))).to.include({ state: 'complete', pinned: true, bytes: size });
      // Retention neither counts nor deletes the partial one.
      await cli(['prune', manifest]);
      expect((await destinationState(destination)).partial).to.deep.equal([`.partial-${partialId}`]);
    });
  });

  describe('runs', () => {
    let p: TestProfile | undefined;
    afterEach(async () => {
      if (p) await killLeftovers(p.dir);
      await p?.cleanup();
      p = undefined;
    });

    it('a failing run never prunes, even with keepLast 1; a succeeding one does', () =>
      withDatabase('retention', async (db) => {
        p = await makeProfile(db, { nodes: 30 });
        const history = daysBetween('2026-11-13', '2026-11-22').map((d) => dailyId(d));
        for (const id of history) await fabricateSnapshot(p.destination, id);

        // A before-hook that fails: nothing runs after it but the unlock.
        const hookFails = await writeManifest(p, 'hook-fails.yaml', 'retention: { keepLast: 1 }\nhooks: { before: [{ run: "false" }] }');
        const first = await cli(['run', hookFails]);
        expect(first.code, first.stderr).to.equal(1);
        expect((await destinationState(p.destination)).published).to.deep.equal(history);

        // The copy fails after the dump succeeded: still no prune.
        const copyFails = await writeManifest(p, 'copy-fails.yaml', 'retention: { keepLast: 1 }\nrepository: { strategy: tar }');
        await rm(p.profile.repositoryPath, { recursive: true, force: true });
        const second = await cli(['run', copyFails]);
        expect(second.code, second.stderr).to.equal(1);
        expect(second.stderr).to.match(/step repository: tar/);
        const afterFailures = await expectOnlySoundSnapshots(p.destination);
        expect(afterFailures.published).to.deep.equal(history);

        // A run that succeeds applies keepLast 1: only its own snapshot stays.
        await mkdir(p.profile.repositoryPath, { recursive: true });
        const ok = await cli(['run', copyFails]);
        expect(ok.code, ok.stderr).to.equal(0);
        const state = await expectOnlySoundSnapshots(p.destination);
        expect(state.published).to.have.length(1);
        expect(state.published[0]! > history.at(-1)!).to.equal(true);
        expect(state.partial, 'the failed run\'s partial is cleared').to.deep.equal([]);
      }));

    it('a run killed while pruning leaves no complete-looking half-deleted snapshot, and the next run clears it', () =>
      withDatabase('retention', async (db) => {
        p = await makeProfile(db, { nodes: 30 });
        // Old snapshots with many files each, so that deleting one takes a while.
        const history = daysBetween('2026-11-20', '2026-11-22').map((d) => dailyId(d));
        for (const id of history) {
          const bulk = join(await fabricateSnapshot(p.destination, id), 'repository');
          await mkdir(bulk);
          execFileSync('sh', ['-c', `cd "$1" && seq 1 ${BULK_FILES} | xargs touch`, 'sh', bulk]);
        }
        const manifest = await writeManifest(p, 'keep-last-1.yaml', 'retention: { keepLast: 1 }');
        const run = spawnCli(['run', manifest], { cwd: p.dir, mark: p.dir });
        await run.waitFor(/start prune/);
        // Kill it once the deleting has begun: the first to go (newest first) starts losing files.
        const first = join(p.destination, history.at(-1)!);
        // Prune renames the folder to .partial- first: gone between the two looks is begun, not intact.
        const files = (dir: string) => {
          try {
            return readdirSync(dir).length;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') return -1;
            throw e;
          }
        };
        const intact = () => existsSync(join(first, 'snapshot.json')) && files(join(first, 'repository')) === BULK_FILES;
        for (const deadline = Date.now() + 20_000; intact(); ) expect(Date.now(), 'prune never started deleting').to.be.lessThan(deadline);
        run.child.kill('SIGKILL');
        await run.exited;
        if (process.env.BACKPLAN_FAULT_VERBOSE) {
          for (const n of (await readdir(p.destination)).sort()) {
            const files = await readdir(join(p.destination, n)).catch(() => [] as string[]);
            const bulk = await readdir(join(p.destination, n, 'repository')).catch(() => [] as string[]);
            process.stderr.write(`  after the kill: ${n}: ${files.filter((f) => f !== 'repository').join(' ')} repository/${bulk.length}\n`);
          }
        }
        // A snapshot is complete exactly when it has snapshot.json: a half-deleted folder must not
        // keep one beside missing files. Prune renames a snapshot to .partial-<id> before deleting.
        const names = await readdir(p.destination);
        for (const id of names.filter((n) => history.includes(n))) {
          expect(await exists(join(p.destination, id, 'snapshot.json')), `${id} lost snapshot.json in place`).to.equal(true);
          const report = await verifySnapshot(new LocalDestination(p.destination), id, { deep: true });
          expect(report.problems, `${id} looks complete after a killed prune`).to.deep.equal([]);
        }
        const halfDeleted = names.filter((n) => history.some((id) => n === `.partial-${id}`));
        expect(halfDeleted, 'the kill landed while a snapshot was being deleted').to.have.length(1);
        const list = await cli(['list', manifest, '--json']);
        const listed = JSON.parse(list.stdout) as { id: string; state: string }[];
        const next = await cli(['run', manifest]);
        expect(next.code, next.stderr).to.equal(0);
        const state = await expectOnlySoundSnapshots(p.destination);
        expect(state.published, 'only the newest snapshot stays').to.have.length(1);
        expect(state.partial).to.deep.equal([]);
        for (const s of listed.filter((x) => x.state === 'partial')) expect(next.stderr).to.include(s.id);
        expect((await readdir(p.destination)).filter((n) => history.includes(n))).to.deep.equal([]);
      }));
  });
});
