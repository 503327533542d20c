/**
 * The destination lock's promises (issue #11), against every destination kind: a lock whose pid
 * now belongs to another live process is stale on this host and taken over, saying why; a live
 * backplan run keeps it; an empty or unparsable lock is held for 10 minutes by its mtime, then
 * stale; `backplan unlock FILE` breaks a lock by hand after checking its holder.
 *
 * Ages are faked with utimes, never waited for. Holders are real processes (support/lock-holder.ts).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDestination } from '../src/destination/registry.js';
import type { Destination } from '../src/destination/types.js';
import { isBackplanError } from '../src/errors.js';
import { acquireLock, releaseLock } from '../src/record/lock.js';
import { DESTINATION_KINDS } from './support/destination-kinds.js';
import { spawnHolder } from './support/lock-holder.js';
import type { Holder } from './support/lock-holder.js';
import { cli, cliPath } from './support/profile.js';
import type { CliResult } from './support/profile.js';

const MINUTE = 60_000;
const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

for (const kind of DESTINATION_KINDS) {
  describe(`locks: ${kind.name}`, function () {
    this.timeout(60_000);
    let scratch: string;
    let dir: string;
    let lockFile: string;
    let dest: Destination;
    let manifest: string;
    const holders: Holder[] = [];

    before(async function () {
      const why = kind.unavailable();
      if (why) {
        console.log(`    (skipped: ${why})`);
        this.skip();
      }
      await kind.start();
    });
    after(() => kind.stop());
    beforeEach(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'backplan-locks-'));
      dir = join(scratch, 'backups');
      lockFile = join(dir, '.lock');
      await mkdir(dir, { recursive: true });
      dest = openDestination(kind.spec(dir), { ...process.env, ...kind.env(scratch) });
      manifest = join(scratch, 'locks.yaml');
      await writeFile(
        manifest,
        [
          'version: 1',
          'name: locks-job',
          'profile:',
          `  explicit: { config: [${JSON.stringify(join(scratch, 'config'))}], repository: ${JSON.stringify(join(scratch, 'repo'))}, database: { host: localhost, port: 5432, name: none, user: none } }`,
          `destination: ${JSON.stringify(kind.spec(dir))}`,
        ].join('\n') + '\n',
      );
    });
    afterEach(async () => {
      await releaseLock(dest);
      await Promise.all(holders.splice(0).map((h) => h.stop()));
      await rm(scratch, { recursive: true, force: true });
    });

    const holder = (k: 'backplan' | 'other') => {
      const h = spawnHolder(k);
      holders.push(h);
      return h;
    };
    const backplan = (...args: string[]): Promise<CliResult> => cli(args, { env: kind.env(scratch) });
    /** acquireLock with waitMs 0: the warnings it gave, or the error it threw. */
    async function take(waitMs = 0): Promise<{ warnings: string[]; waits: string[]; error?: Error }> {
      const warnings: string[] = [];
      const waits: string[] = [];
      const error = await acquireLock(dest, 'locks-job', { waitMs, warn: (m) => warnings.push(m), onWait: (m) => waits.push(m) }).then(
        () => undefined,
        (e: Error) => e,
      );
      return { warnings, waits, error };
    }
    const lockText = () => readFile(lockFile, 'utf8').catch(() => undefined);
    const ours = async () => JSON.parse((await lockText()) ?? '{}').pid === process.pid;
    /** The lock file's mtime, `ms` ago. */
    const age = (ms: number) => utimes(lockFile, new Date(Date.now() - ms), new Date(Date.now() - ms));

    describe('a holder whose pid now belongs to another process', () => {
      it('a live process started after the lock was taken is no holder: taken over, saying so', async () => {
        const sleeper = holder('other');
        await writeFile(lockFile, sleeper.lock(new Date(Date.now() - 60 * MINUTE).toISOString()));
        const { warnings, error } = await take();
        expect(error, error?.message).to.equal(undefined);
        expect(warnings.join('\n')).to.match(new RegExp(`taking over the lock of process ${sleeper.pid} .*whose pid now belongs to \`sleep 60\`, a process started .* after the lock was taken`));
        expect(await ours()).to.equal(true);
      });

      it('a live process that is no backplan run is no holder, even one started before the lock', async () => {
        const sleeper = holder('other');
        await writeFile(lockFile, sleeper.lock());
        const { warnings, error } = await take();
        expect(error, error?.message).to.equal(undefined);
        expect(warnings.join('\n')).to.match(new RegExp(`taking over the lock of process ${sleeper.pid} .*\`sleep 60\`, which is not a backplan run`));
        expect(await ours()).to.equal(true);
      });

      it('a live backplan run keeps its lock: LOCKED, naming it and what it runs', async () => {
        const run = holder('backplan');
        const written = run.lock();
        await writeFile(lockFile, written);
        const { error } = await take();
        expect(isBackplanError(error) && error.code).to.equal('LOCKED');
        expect(error!.message).to.contain(`process ${run.pid} on ${hostname()}`).and.to.contain(cliPath).and.to.contain('.lock');
        expect(await lockText(), 'left alone').to.equal(written);
      });

      it('a recorded identity decides: the very process keeps it whatever its argv; its pid in another process, or after a reboot, does not', async () => {
        const sleeper = holder('other');
        const base = JSON.parse(sleeper.lock()) as Record<string, unknown>;
        const identity = { bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), startTicks: startTicks(sleeper.pid) };
        await writeFile(lockFile, JSON.stringify({ ...base, ...identity }));
        const kept = await take();
        expect(isBackplanError(kept.error) && kept.error.code, 'the process that wrote it, though `sleep`').to.equal('LOCKED');

        await writeFile(lockFile, JSON.stringify({ ...base, ...identity, startTicks: identity.startTicks - 1 }));
        const reused = await take();
        expect(reused.error, reused.error?.message).to.equal(undefined);
        expect(reused.warnings.join('\n')).to.match(new RegExp(`process ${sleeper.pid} .*whose pid now belongs to \`sleep 60\`, another process`));
        await releaseLock(dest);

        await writeFile(lockFile, JSON.stringify({ ...base, ...identity, bootId: 'another-boot' }));
        const rebooted = await take();
        expect(rebooted.error, rebooted.error?.message).to.equal(undefined);
        expect(rebooted.warnings.join('\n')).to.match(/no longer running \(the host has restarted since\)/);
      });

      it('records its own identity in the lock it takes', async () => {
        await take();
        const lock = JSON.parse((await lockText())!) as Record<string, unknown>;
        expect(lock).to.include({ pid: process.pid, host: hostname(), job: 'locks-job', startTicks: startTicks(process.pid) });
        expect(lock.bootId).to.equal(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
      });
    });

    describe('an empty or unparsable lock', () => {
      for (const [what, text, says] of [
        ['empty', '', /is empty/],
        ['unparsable', '{"pid": 12, "host": ', /is not a backplan lock \(unparsable\)/],
      ] as const) {
        it(`${what}, younger than 10 minutes: held (LOCKED naming the file, when it turns stale); the CLI exits 75`, async () => {
          await writeFile(lockFile, text);
          await age(MINUTE);
          const { error } = await take();
          expect(isBackplanError(error) && error.code).to.equal('LOCKED');
          expect(error!.message).to.contain(dest.location('.lock')).and.to.match(says).and.to.match(/last written 1m0\ds ago/).and.to.match(/stale in (8m5\d|9m00)s/);
          const prune = await backplan('prune', manifest);
          expect(prune.code, prune.stderr).to.equal(75);
          expect(prune.stderr).to.contain('.lock').and.to.match(says).and.to.match(/stale in (8m5\d|9m00)s/).and.not.to.match(NO_STACK);
          expect(await lockText(), 'left alone').to.equal(text);
        });

        it(`${what}, last written 11 minutes ago: stale, taken over with a warning (by the CLI too)`, async () => {
          await writeFile(lockFile, text);
          await age(11 * MINUTE);
          const { warnings, error } = await take();
          expect(error, error?.message).to.equal(undefined);
          expect(warnings.join('\n')).to.contain(`taking over ${dest.location('.lock')}`).and.to.match(says).and.to.match(/last written 11m0\ds ago/);
          expect(await ours()).to.equal(true);
          await releaseLock(dest);
          await writeFile(lockFile, text);
          await age(11 * MINUTE);
          const prune = await backplan('prune', manifest);
          expect(prune.code, prune.stderr).to.equal(0);
          expect(prune.stderr).to.match(/warning: taking over .*\.lock: it /).and.to.match(says);
          expect(await lockText(), 'released by prune').to.equal(undefined);
        });
      }

      it('with a wait, a run waits for an unreadable lock to turn stale, then takes it over', async () => {
        await writeFile(lockFile, '');
        await age(10 * MINUTE - 1500);
        const { warnings, waits, error } = await take(30_000);
        expect(error, error?.message).to.equal(undefined);
        expect(waits.join('\n')).to.match(/waiting up to 30\.0s for .*\.lock, which is empty/);
        expect(warnings.join('\n')).to.match(/taking over .*\.lock: it is empty/);
        expect(await ours()).to.equal(true);
      });
    });
  });
}

/** /proc/<pid>/stat field 22: the process's start, in clock ticks since boot. */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}
