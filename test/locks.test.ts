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
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDestination } from '../src/destination/registry.js';
import type { Destination } from '../src/destination/types.js';
import { isBackplanError } from '../src/errors.js';
import { acquireLock, releaseLock } from '../src/record/lock.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';
import { spawnHolder } from './support/lock-holder.js';
import type { Holder } from './support/lock-holder.js';
import { writeManifest } from './support/manifests.js';
import { useDatabase } from './support/pg.js';
import { killLeftovers, spawnCli } from './support/procs.js';
import { cli, cliPath, makeProfile } from './support/profile.js';
import type { CliResult, TestProfile } from './support/profile.js';

const MINUTE = 60_000;
const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

for (const kind of DESTINATION_KINDS) {
  describe(`locks: ${kind.name}`, function () {
    this.timeout(60_000);
    let scratch: string;
    let dir: string;
    let dest: Destination;
    let manifest: string;
    const holders: Holder[] = [];

    useKind(kind);
    beforeEach(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'backplan-locks-'));
      dir = join(scratch, 'backups');
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
    // Through the kind's store: the folder itself, or the remote read by rclone.
    const lockText = () => kind.store.read(dir, '.lock').then((b) => b?.toString('utf8'));
    const ours = async () => JSON.parse((await lockText()) ?? '{}').pid === process.pid;
    /** The lock file's mtime, `ms` ago. */
    const age = (ms: number) => kind.store.touch(dir, '.lock', new Date(Date.now() - ms));

    describe('a holder whose pid now belongs to another process', () => {
      it('a live process started after the lock was taken is no holder: taken over, saying so', async () => {
        const sleeper = holder('other');
        await kind.store.write(dir, '.lock', sleeper.lock(new Date(Date.now() - 60 * MINUTE).toISOString()));
        const { warnings, error } = await take();
        expect(error, error?.message).to.equal(undefined);
        expect(warnings.join('\n')).to.match(new RegExp(`taking over the lock of process ${sleeper.pid} .*whose pid now belongs to \`sleep 60\`, a process started .* after the lock was taken`));
        expect(await ours()).to.equal(true);
      });

      it('a live process that is no backplan run is no holder, even one started before the lock', async () => {
        const sleeper = holder('other');
        await kind.store.write(dir, '.lock', sleeper.lock());
        const { warnings, error } = await take();
        expect(error, error?.message).to.equal(undefined);
        expect(warnings.join('\n')).to.match(new RegExp(`taking over the lock of process ${sleeper.pid} .*\`sleep 60\`, which is not a backplan run`));
        expect(await ours()).to.equal(true);
      });

      it('a live backplan run keeps its lock: LOCKED, naming it and what it runs', async () => {
        const run = holder('backplan');
        const written = run.lock();
        await kind.store.write(dir, '.lock', written);
        const { error } = await take();
        expect(isBackplanError(error) && error.code).to.equal('LOCKED');
        expect(error!.message).to.contain(`process ${run.pid} on ${hostname()}`).and.to.contain(cliPath).and.to.contain('.lock');
        expect(await lockText(), 'left alone').to.equal(written);
      });

      it('a recorded identity decides: the very process keeps it whatever its argv; its pid in another process, or after a reboot, does not', async () => {
        const sleeper = holder('other');
        const base = JSON.parse(sleeper.lock()) as Record<string, unknown>;
        const identity = { bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), startTicks: startTicks(sleeper.pid) };
        await kind.store.write(dir, '.lock', JSON.stringify({ ...base, ...identity }));
        const kept = await take();
        expect(isBackplanError(kept.error) && kept.error.code, 'the process that wrote it, though `sleep`').to.equal('LOCKED');

        await kind.store.write(dir, '.lock', JSON.stringify({ ...base, ...identity, startTicks: identity.startTicks - 1 }));
        const reused = await take();
        expect(reused.error, reused.error?.message).to.equal(undefined);
        expect(reused.warnings.join('\n')).to.match(new RegExp(`process ${sleeper.pid} .*whose pid now belongs to \`sleep 60\`, another process`));
        await releaseLock(dest);

        await kind.store.write(dir, '.lock', JSON.stringify({ ...base, ...identity, bootId: 'another-boot' }));
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
          await kind.store.write(dir, '.lock', text);
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
          await kind.store.write(dir, '.lock', text);
          await age(11 * MINUTE);
          const { warnings, error } = await take();
          expect(error, error?.message).to.equal(undefined);
          expect(warnings.join('\n')).to.contain(`taking over ${dest.location('.lock')}`).and.to.match(says).and.to.match(/last written 11m0\ds ago/);
          expect(await ours()).to.equal(true);
          await releaseLock(dest);
          await kind.store.write(dir, '.lock', text);
          await age(11 * MINUTE);
          const prune = await backplan('prune', manifest);
          expect(prune.code, prune.stderr).to.equal(0);
          expect(prune.stderr).to.match(/warning: taking over .*\.lock: it /).and.to.match(says);
          expect(await lockText(), 'released by prune').to.equal(undefined);
        });
      }

      it('with a wait, a run waits for an unreadable lock to turn stale, then takes it over', async () => {
        await kind.store.write(dir, '.lock', '');
        // Young enough to be waited for once the first look has been taken, however slow that is.
        await age(10 * MINUTE - 1500 - 6 * kind.callMs);
        const { warnings, waits, error } = await take(30_000);
        expect(error, error?.message).to.equal(undefined);
        expect(waits.join('\n')).to.match(/waiting up to 30\.0s for .*\.lock, which is empty/);
        expect(warnings.join('\n')).to.match(/taking over .*\.lock: it is empty/);
        expect(await ours()).to.equal(true);
      });
    });

    describe('backplan unlock FILE', () => {
      it('no lock: says so, exit 0', async () => {
        const r = await backplan('unlock', manifest);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/no lock at .*\.lock/);
      });

      it('a dead holder: removed, saying whose it was', async () => {
        const gone = holder('other');
        const lock = gone.lock();
        await gone.stop();
        await kind.store.write(dir, '.lock', lock);
        const r = await backplan('unlock', manifest);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(new RegExp(`removed .*\\.lock, held by process ${gone.pid} on .*, which is no longer running`));
        expect(await lockText()).to.equal(undefined);
      });

      it('a pid now another process: removed, saying why', async () => {
        const sleeper = holder('other');
        await kind.store.write(dir, '.lock', sleeper.lock(new Date(Date.now() - 60 * MINUTE).toISOString()));
        const r = await backplan('unlock', manifest);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(new RegExp(`removed .*\\.lock, held by process ${sleeper.pid} .*after the lock was taken`));
        expect(await lockText()).to.equal(undefined);
      });

      it('a live backplan run: refused (exit 1, naming it), --force removes it', async () => {
        const run = holder('backplan');
        const written = run.lock();
        await kind.store.write(dir, '.lock', written);
        const refused = await backplan('unlock', manifest);
        expect(refused.code, refused.stderr).to.equal(1);
        expect(refused.stderr).to.match(new RegExp(`held by process ${run.pid} on .*${escape(cliPath)}.*still running`)).and.to.match(/--force/).and.not.to.match(NO_STACK);
        expect(await lockText(), 'kept').to.equal(written);
        const forced = await backplan('unlock', manifest, '--force');
        expect(forced.code, forced.stderr).to.equal(0);
        expect(forced.stdout).to.match(new RegExp(`removed .*\\.lock \\(--force\\), held by process ${run.pid}`));
        expect(await lockText()).to.equal(undefined);
      });

      it('a holder on another host: refused naming the host, --force removes it', async () => {
        await kind.store.write(dir, '.lock', JSON.stringify({ pid: 4242, host: 'elsewhere.example', startedAt: new Date().toISOString(), job: 'theirs' }));
        const refused = await backplan('unlock', manifest);
        expect(refused.code, refused.stderr).to.equal(1);
        expect(refused.stderr).to.contain('process 4242 on elsewhere.example').and.to.match(/another host/).and.to.match(/process 4242 on elsewhere\.example is not a running backplan/);
        expect(await lockText()).not.to.equal(undefined);
        const forced = await backplan('unlock', manifest, '--force');
        expect(forced.code, forced.stderr).to.equal(0);
        expect(forced.stdout).to.match(/removed .*\.lock \(--force\), held by process 4242 on elsewhere\.example/);
        expect(await lockText()).to.equal(undefined);
      });

      for (const [what, text, says] of [
        ['empty', '', /which is empty/],
        ['unparsable', 'garbage', /which is not a backplan lock/],
      ] as const) {
        it(`an ${what} lock, however young: removed, saying what it was`, async () => {
          await kind.store.write(dir, '.lock', text);
          const r = await backplan('unlock', manifest);
          expect(r.code, r.stderr).to.equal(0);
          expect(r.stdout).to.match(/removed .*\.lock, /).and.to.match(says);
          expect(await lockText()).to.equal(undefined);
        });
      }

      it('is listed in --help', async () => {
        const help = await backplan('--help');
        expect(help.stdout).to.match(/unlock .*break the destination lock by hand/);
      });
    });
  });
}

describe('locks: a real backplan run holding the lock', function () {
  this.timeout(180_000);
  const db = useDatabase('locks');
  let p: TestProfile;

  before(async () => {
    p = await makeProfile(db, { nodes: 20, extra: 'repository: { strategy: tar }' });
  });
  after(async () => {
    if (p) await killLeftovers(p.dir);
    await p?.cleanup();
  });

  for (const kind of DESTINATION_KINDS) {
    describe(kind.name, () => {
      before(async function () {
        if (kind.unavailable()) this.skip();
        await kind.start();
      });
      after(() => kind.stop());

      it('keeps its lock from another run (exit 75) and from unlock (exit 1); unlock --force breaks it', async () => {
        const slug = kind.name.replace(/[^a-z0-9]+/gi, '-');
        const destDir = join(p.dir, `backups-${slug}`);
        const file = await writeManifest(p, `hold-${slug}.yaml`, 'hooks: { before: [{ run: [sleep, "60"] }] }', { destination: kind.spec(destDir) });
        const env = kind.env(p.dir);
        const holding = spawnCli(['run', file], { cwd: p.dir, mark: p.dir, env });
        try {
          await holding.waitFor(/start before-1/);
          const lock = JSON.parse((await kind.store.read(destDir, '.lock'))!.toString('utf8')) as Record<string, unknown>;
          expect(lock.pid).to.equal(holding.pid);
          const second = await cli(['prune', file], { env });
          expect(second.code, second.stderr).to.equal(75);
          expect(second.stderr).to.contain(`process ${holding.pid}`);
          const refused = await cli(['unlock', file], { env });
          expect(refused.code, refused.stderr).to.equal(1);
          expect(refused.stderr).to.match(new RegExp(`held by process ${holding.pid} .*running \`.*backplan\\.cjs run .*still running`));
          const forced = await cli(['unlock', file, '--force'], { env });
          expect(forced.code, forced.stderr).to.equal(0);
          expect(forced.stdout).to.match(new RegExp(`removed .*\\.lock \\(--force\\), held by process ${holding.pid}`));
        } finally {
          holding.child.kill('SIGTERM');
          await holding.exited;
          await killLeftovers(p.dir);
        }
      });
    });
  }
});

/** /proc/<pid>/stat field 22: the process's start, in clock ticks since boot. */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
