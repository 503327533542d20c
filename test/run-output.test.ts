/**
 * What `backplan run` tells its user and what it never tells anyone: `--json` events, a
 * password kept out of every output, argv and record, failing steps reported without stacks,
 * always-hooks after a failure, step timeouts, NO_COLOR and TERM=dumb on a terminal.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { connectTo } from '../src/demo/cluster.js';
import type { RunEvent } from '../src/execute/events.js';
import type { Plan } from '../src/plan/types.js';
import { destinationState, exists, expectOnlySoundSnapshots } from './support/destination.js';
import { writeManifest } from './support/manifests.js';
import { useDatabase } from './support/pg.js';
import { allCmdlines, killLeftovers, processesOf, spawnCli } from './support/procs.js';
import type { Exited } from './support/procs.js';
import { cliPath, makeProfile } from './support/profile.js';
import type { TestProfile } from './support/profile.js';

const NO_STACK = /^\s+at /m;
const CSI = '\x1b[';

describe('backplan run output', function () {
  this.timeout(120_000);
  const db = useDatabase('output');
  let p: TestProfile;

  before(async () => {
    p = await makeProfile(db, { nodes: 100 });
  });
  after(async () => {
    if (p) await killLeftovers(p.dir);
    await p?.cleanup();
  });
  afterEach(async () => {
    if (p) await killLeftovers(p.dir);
  });

  /** The binary, run to its end in the profile's folder, PGPASSWORD unset unless given. */
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Exited> =>
    spawnCli(args, { cwd: p.dir, mark: p.dir, env: { PGPASSWORD: undefined, ...env } }).exited;

  it('a password given in PGPASSWORD shows in no plan, output, event or record either', async () => {
    const canary = `canary-env-${randomBytes(6).toString('hex')}`;
    for (const format of ['text', 'json', 'mermaid', 'markdown']) {
      const r = await run(['plan', p.manifest, '--format', format], { PGPASSWORD: canary });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout + r.stderr, format).not.to.include(canary);
    }
    const r = await run(['run', p.manifest, '--json'], { PGPASSWORD: canary });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout + r.stderr).not.to.include(canary);
    const state = await expectOnlySoundSnapshots(p.destination);
    for (const name of await readdir(join(p.destination, state.latest!))) {
      if (name.endsWith('.json')) expect(await readFile(join(p.destination, state.latest!, name), 'utf8'), name).not.to.include(canary);
    }
  });

  describe('with a password in the AiiDA config', () => {
    const canary = `canary-${randomBytes(6).toString('hex')}`;
    let original: string;
    let blocker: pg.Client | undefined;
    let watcher: pg.Client | undefined;

    before(async function () {
      // The canary reaches pg_dump as PGPASSWORD; only a trust-auth server lets that dump succeed.
      if (db.server.password !== undefined) this.skip();
      original = await readFile(p.profile.configPath, 'utf8');
      const config = JSON.parse(original) as { profiles: Record<string, { storage: { config: Record<string, unknown> } }> };
      config.profiles[p.profile.profileName]!.storage.config.database_password = canary;
      await writeFile(p.profile.configPath, JSON.stringify(config, null, 4), { mode: 0o600 });
    });
    after(async () => {
      await blocker?.end().catch(() => undefined);
      await watcher?.end().catch(() => undefined);
      if (original) await writeFile(p.profile.configPath, original, { mode: 0o600 });
    });

    it('plan shows it as *** in every format and nowhere in clear', async () => {
      for (const format of ['text', 'json', 'mermaid', 'markdown']) {
        const r = await run(['plan', p.manifest, '--format', format]);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout + r.stderr, format).not.to.include(canary);
        if (format === 'text' || format === 'json') expect(r.stdout, format).to.include('PGPASSWORD=***');
      }
      const dry = await run(['run', p.manifest, '--dry-run']);
      expect(dry.stdout + dry.stderr).not.to.include(canary);
    });

    it('run --json prints only JSON events, every step started and ended, and the password in no output, argv or record', async () => {
      const plan = JSON.parse((await run(['plan', p.manifest, '--format', 'json'])).stdout) as Plan;
      // Hold the dump on a table lock for a moment, so that pg_dump is surely seen running.
      blocker = await connectTo(db.server, db.name);
      watcher = await connectTo(db.server, db.name);
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE db_dblog IN ACCESS EXCLUSIVE MODE');
      const child = spawnCli(['run', p.manifest, '--json'], { cwd: p.dir, mark: p.dir, env: { PGPASSWORD: undefined } });
      let running = true;
      const leaks: string[] = [];
      let samples = 0;
      const sampling = (async () => {
        while (running) {
          samples++;
          for (const line of await allCmdlines()) if (line.includes(canary)) leaks.push(line);
          await sleep(10);
        }
      })();
      let pgDumpEnv = '';
      for (let i = 0; ; i++) {
        const waiting = await watcher.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump' AND wait_event_type = 'Lock'", [db.name]);
        if (waiting.rows.length > 0) break;
        expect(i, 'pg_dump never started').to.be.lessThan(400);
        await sleep(50);
      }
      for (const proc of await processesOf(p.dir)) {
        // The dump itself (--format=), not pg_dumpall's short-lived `pg_dump -V`, nor a launcher.
        if (/^\S*\bpg_dump .*--format=/.test(proc.cmdline) && !proc.cmdline.startsWith('/usr/bin/perl')) pgDumpEnv = await readFile(`/proc/${proc.pid}/environ`, 'utf8').catch(() => '');
      }
      // pg_dump stays blocked until the sampler has looked at every argv a few more times.
      const seenWhileBlocked = samples + 10;
      for (let i = 0; samples < seenWhileBlocked && i < 200; i++) await sleep(50);
      await blocker.query('ROLLBACK');
      const r = await child.exited;
      running = false;
      await sampling;

      expect(r.code, r.stderr).to.equal(0);
      expect(pgDumpEnv.split('\0'), 'pg_dump got the password through its environment').to.include(`PGPASSWORD=${canary}`);
      expect(samples, 'argv samples taken').to.be.greaterThan(10);
      expect(leaks, 'command lines holding the password').to.deep.equal([]);

      const lines = r.stdout.split('\n').filter((l) => l !== '');
      const events = lines.map((l) => {
        try {
          return JSON.parse(l) as RunEvent;
        } catch {
          throw new Error(`stdout line is not JSON: ${l}`);
        }
      });
      for (const e of events) {
        expect(e.type, JSON.stringify(e)).to.be.a('string');
        expect(Number.isNaN(Date.parse(e.at)), `at of ${JSON.stringify(e)}`).to.equal(false);
      }
      expect(events[0]!.type).to.equal('run-start');
      expect(events.at(-1)).to.include({ type: 'run-end', status: 'ok' });
      for (const step of plan.steps) {
        const start = events.findIndex((e) => e.type === 'step-start' && e.step === step.id);
        const end = events.findIndex((e) => e.type === 'step-end' && e.step === step.id);
        expect(start, `step-start ${step.id}`).to.be.greaterThan(0);
        expect(end, `step-end ${step.id}`).to.be.greaterThan(start);
        expect(events[end]).to.include({ status: 'ok' });
      }
      expect(r.stdout + r.stderr).not.to.include(canary);

      const state = await expectOnlySoundSnapshots(p.destination);
      const snapshot = join(p.destination, state.latest!);
      for (const name of await readdir(snapshot)) {
        if (name.endsWith('.json')) expect(await readFile(join(snapshot, name), 'utf8'), name).not.to.include(canary);
      }
      for (const name of await readdir(p.destination)) {
        if (name.endsWith('.json')) expect(await readFile(join(p.destination, name), 'utf8'), name).not.to.include(canary);
      }
      const list = await run(['list', p.manifest, '--json']);
      expect(list.stdout + list.stderr).not.to.include(canary);
    });
  });

  describe('a failing step', () => {
    it('a failing hook: exit 1 naming the step, its command and stderr tail, no stack trace', async () => {
      const manifest = await writeManifest(p, 'hook-fails.yaml', 'hooks: { before: [{ run: [sh, -c, "echo first-line >&2; echo tail-of-stderr >&2; exit 3"] }] }');
      const before = await destinationState(p.destination);
      const r = await run(['run', manifest]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.include('step before-1: sh exited with code 3');
      expect(r.stderr).to.include(`  command: sh -c 'echo first-line >&2; echo tail-of-stderr >&2; exit 3'`);
      expect(r.stderr).to.match(/^ {2}\| tail-of-stderr$/m);
      expect(r.stderr).not.to.match(NO_STACK);
      expect((await destinationState(p.destination)).published).to.deep.equal(before.published);

      const json = await run(['run', manifest, '--json']);
      expect(json.code).to.equal(1);
      const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as RunEvent);
      const failed = events.find((e) => e.type === 'step-end' && e.step === 'before-1');
      expect(failed).to.include({ status: 'failed', command: "sh -c 'echo first-line >&2; echo tail-of-stderr >&2; exit 3'" });
      expect((failed as { stderrTail?: string }).stderrTail).to.include('tail-of-stderr');
      expect(events.at(-1)).to.include({ type: 'run-end', status: 'failed' });
    });

    it('hook `false`: exit 1, "false exited with code 1"', async () => {
      const manifest = await writeManifest(p, 'hook-false.yaml', 'hooks: { before: [{ run: "false" }] }');
      const r = await run(['run', manifest]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('step before-1: false exited with code 1');
      expect(r.stderr).to.include('  command: false');
      expect(r.stderr).not.to.match(NO_STACK);
    });

    it('a step whose command does not exist: exit 1, "command not found", no stack trace', async () => {
      const manifest = await writeManifest(p, 'bad-exec.yaml', 'steps: [{ id: offsite, run: "no-such-command-xyz --to remote:", needs: [finalize] }]');
      const r = await run(['run', manifest]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('step offsite: no-such-command-xyz: command not found');
      expect(r.stderr).to.include('  command: no-such-command-xyz --to remote:');
      expect(r.stderr).not.to.match(NO_STACK);
    });

    it('an always after-hook still runs after a failure, a plain one does not', async () => {
      const always = join(p.dir, 'ran-always');
      const plain = join(p.dir, 'ran-plain');
      const manifest = await writeManifest(
        p,
        'always.yaml',
        [
          'hooks:',
          '  before: [{ run: "false" }]',
          `  after: [{ run: [touch, ${JSON.stringify(always)}], always: true }, { run: [touch, ${JSON.stringify(plain)}] }]`,
        ].join('\n'),
      );
      const r = await run(['run', manifest]);
      expect(r.code).to.equal(1);
      expect(await exists(always), 'always: true after-hook ran').to.equal(true);
      expect(await exists(plain), 'plain after-hook ran').to.equal(false);
      expect(r.stdout).to.match(/^after-1\s+ok\b/m);
      expect(r.stdout).to.match(/^after-2\s+skipped\b/m);
      const state = await destinationState(p.destination);
      expect(state.lock, 'lock released').to.equal(false);
    });

    it('a per-step timeout kills a hung hook: exit 1 within seconds, "timed out", nothing left running', async () => {
      const manifest = await writeManifest(p, 'timeout.yaml', 'hooks: { before: [{ run: [sh, -c, "echo going to sleep >&2; exec sleep 30"], timeout: 1s }] }');
      const started = Date.now();
      const r = await run(['run', manifest]);
      const took = Date.now() - started;
      expect(r.code, r.stderr).to.equal(1);
      expect(took, 'exit soon after the timeout').to.be.lessThan(8000);
      expect(r.stderr).to.include('step before-1: timed out after 1.0s');
      expect(r.stderr).to.include(`  command: sh -c 'echo going to sleep >&2; exec sleep 30'`);
      expect(r.stderr).to.match(/^ {2}\| going to sleep$/m);
      expect(r.stderr).not.to.match(NO_STACK);
      expect(await processesOf(p.dir), 'sleep 30 was killed').to.deep.equal([]);
      const json = await run(['run', manifest, '--json']);
      const end = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as RunEvent).find((e) => e.type === 'step-end' && e.step === 'before-1');
      expect(end).to.include({ status: 'failed', error: 'timed out after 1.0s' });
      expect((await destinationState(p.destination)).lock).to.equal(false);
    });
  });

  describe('on a terminal', function () {
    const hasScript = (() => {
      try {
        execFileSync('script', ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();

    /** Runs backplan under `script`, i.e. with a pseudo-terminal as stdout and stderr. */
    function onTerminal(args: string[], env: NodeJS.ProcessEnv): { code: number; output: string } {
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const command = [process.execPath, cliPath, ...args].map(quote).join(' ');
      const childEnv = { ...process.env, ...env };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
      try {
        return { code: 0, output: execFileSync('script', ['-qfec', command, '/dev/null'], { cwd: p.dir, env: childEnv, encoding: 'utf8' }) };
      } catch (e) {
        const err = e as { status: number; stdout: string };
        return { code: err.status, output: err.stdout };
      }
    }

    before(function () {
      if (!hasScript) this.skip();
    });

    it('draws in colour by default (the check below is not vacuous)', () => {
      const r = onTerminal(['run', p.manifest], { NO_COLOR: undefined, TERM: 'xterm', PGPASSWORD: undefined });
      expect(r.code, r.output).to.equal(0);
      expect(r.output).to.match(/\x1b\[3\dm/);
    });

    it('NO_COLOR=1: no colour on a terminal, and no escape sequence at all off one', async () => {
      const tty = onTerminal(['run', p.manifest], { NO_COLOR: '1', TERM: 'xterm', PGPASSWORD: undefined });
      expect(tty.code, tty.output).to.equal(0);
      // no-color.org covers colour (SGR); the live display still moves the cursor.
      expect(tty.output).not.to.match(/\x1b\[[0-9;]*m/);
      await sleep(1000); // snapshot ids have one-second resolution
      const piped = await run(['run', p.manifest], { NO_COLOR: '1' });
      expect(piped.code, piped.stderr).to.equal(0);
      expect(piped.stdout + piped.stderr).not.to.include(CSI);
    });

    it('TERM=dumb: plain lines, no escape sequence at all', () => {
      const r = onTerminal(['run', p.manifest], { NO_COLOR: '1', TERM: 'dumb', PGPASSWORD: undefined });
      expect(r.code, r.output).to.equal(0);
      expect(r.output).not.to.include(CSI);
      expect(r.output).to.match(/start db-dump \(db-dump\)/);
    });
  });
});
