import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expectOnlySoundSnapshots } from './support/destination.js';
import { withDatabase } from './support/pg.js';
import { processesOf, settledProcesses, spawnCli } from './support/procs.js';
import { cliPath, makeProfile, repoRoot } from './support/profile.js';
import { npmStandIn, parseWorkflowFile, parseWorkflowText, runJob } from './support/workflow.js';
import type { WorkflowJob } from './support/workflow.js';

const examples = join(repoRoot, 'examples');

/** A PATH folder whose `backplan` is this checkout's CLI, as the install step would give. */
async function backplanOnPath(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'backplan'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  await chmod(join(bin, 'backplan'), 0o755);
  return bin;
}

function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The release tarball the workflows install: `npm pack` of this checkout, served at a file: URL. */
interface Tarball {
  url: string;
  sha256: string;
}

async function packTarball(dir: string): Promise<Tarball> {
  await mkdir(dir, { recursive: true });
  const r = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: repoRoot });
  expect(r.code, r.stderr).to.equal(0);
  const file = join(dir, r.stdout.trim().split('\n').at(-1)!);
  return { url: pathToFileURL(file).href, sha256: createHash('sha256').update(await readFile(file)).digest('hex') };
}

function job(jobs: WorkflowJob[], id: string): WorkflowJob {
  const found = jobs.find((j) => j.id === id);
  expect(found, `job ${id}`).to.not.equal(undefined);
  return found!;
}

describe('examples', function () {
  this.timeout(120_000);
  let dir: string;
  let tarball: Tarball;
  before(async () => {
    tarball = await packTarball(await mkdtemp(join(tmpdir(), 'backplan-tarball-')));
  });
  after(() => rm(new URL(tarball.url).pathname.replace(/\/[^/]+$/, ''), { recursive: true, force: true }));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-examples-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  describe('GitHub Actions workflows', () => {
    /** The runner's environment for a test: the stand-in npm, the local tarball, pinned. */
    async function runnerEnv(pin: Partial<Tarball> = tarball): Promise<NodeJS.ProcessEnv> {
      return { PATH: `${await npmStandIn(dir)}:${process.env.PATH}`, BACKPLAN_TARBALL: tarball.url, ...(pin.sha256 ? { BACKPLAN_SHA256: pin.sha256 } : {}) };
    }

    it('parse without errors with GitHub\'s workflow parser, which does report a broken one', async () => {
      for (const file of ['validate-manifests.yml', 'scheduled-backup.yml']) {
        const w = await parseWorkflowFile(join(examples, 'github-actions', file));
        expect(w.errors, file).to.deep.equal([]);
        expect(w.jobs, file).to.have.length(1);
      }
      const broken = await parseWorkflowText('broken.yml', 'on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n        uses: actions/checkout@v4\n');
      expect(broken.errors).to.have.length.greaterThan(0);
    });

    it('install backplan only from the tarball pinned by sha256, never by name from a registry', async () => {
      for (const [file, id] of [['validate-manifests.yml', 'validate'], ['scheduled-backup.yml', 'backup']] as const) {
        const w = await parseWorkflowFile(join(examples, 'github-actions', file));
        const install = job(w.jobs, id).steps.filter((s) => s.run?.includes('npm '));
        expect(install, `${file}: one install step`).to.have.length(1);
        const only = { ...job(w.jobs, id), steps: install };

        // As committed, the checksum is a placeholder: the job stops before npm runs.
        const unpinned = await runJob(only, dir, await runnerEnv({}));
        expect(unpinned.at(-1)!.code, `${file}: an unset checksum fails the install`).to.not.equal(0);
        expect(unpinned.at(-1)!.stderr).to.match(/FAILED|did NOT match/);
        await expectMissing(join(dir, '.runner-temp', 'backplan'));

        const pinned = await runJob(only, dir, await runnerEnv());
        expect(pinned.at(-1)!.code, `${file}: ${pinned.at(-1)!.stderr}`).to.equal(0);
        const installed = await run(join(dir, '.runner-temp', 'backplan', 'bin', 'backplan'), ['--version']);
        expect(installed.stdout.trim()).to.equal(JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')).version);
        await rm(join(dir, '.runner-temp'), { recursive: true, force: true });
      }
    });

    it('the pull-request workflow validates with annotations and writes each plan to the job summary', async () => {
      const validate = job((await parseWorkflowFile(join(examples, 'github-actions', 'validate-manifests.yml'))).jobs, 'validate');
      await cp(join(repoRoot, 'manifests'), join(dir, 'manifests'), { recursive: true });
      const summary = join(dir, 'summary.md');
      const env = { ...(await runnerEnv()), GITHUB_STEP_SUMMARY: summary };
      const results = await runJob(validate, dir, env);
      expect(results.map((r) => [r.name, r.code]), results.map((r) => r.stderr).join('')).to.deep.equal([
        ['Install backplan (release tarball pinned by sha256)', 0],
        ['Validate (inline annotations)', 0],
        ['Plan (job summary)', 0],
      ]);
      const text = await readFile(summary, 'utf8');
      expect(text.match(/```mermaid/g)).to.have.length(3);
      expect(text).to.contain('| repository | repo-incremental | db-snapshot |');

      await writeFile(join(dir, 'manifests', 'broken.yaml'), 'version: 1\nname: Broken\n');
      const broken = await runJob(validate, dir, env);
      expect(broken.at(-1)!.name).to.equal('Validate (inline annotations)');
      expect(broken.at(-1)!.code).to.equal(2);
      expect(broken.at(-1)!.stdout).to.match(/^::error file=manifests\/broken\.yaml,line=2,col=7::name must match/m);
    });

    it('the scheduled workflow backs up, keeps the JSON event log and passes the freshness gate', () =>
      withDatabase('examples', async (db) => {
        const backup = job((await parseWorkflowFile(join(examples, 'github-actions', 'scheduled-backup.yml'))).jobs, 'backup');
        const p = await makeProfile(db, { extra: 'repository: { strategy: tar }' });
        try {
          const results = await runJob(backup, dir, { ...(await runnerEnv()), MANIFEST: p.manifest });
          expect(results.map((r) => [r.name, r.code]), results.map((r) => r.stderr).join('')).to.deep.equal([
            ['Install backplan (release tarball pinned by sha256)', 0],
            ['Back up', 0],
            ['Freshness gate', 0],
          ]);
          const events = (await readFile(join(dir, 'backplan-events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; status?: string });
          expect(events.at(-1)).to.include({ type: 'run-end', status: 'ok' });
        } finally {
          await p.cleanup();
        }
      }));
  });

  describe('cron', () => {
    interface CronLine {
      user: string;
      command: string;
    }

    /** /etc/cron.d format: variables, then `m h dom mon dow user command` lines. */
    async function crontab(): Promise<{ vars: Record<string, string>; lines: CronLine[] }> {
      const vars: Record<string, string> = {};
      const lines: CronLine[] = [];
      for (const line of (await readFile(join(examples, 'cron', 'backplan'), 'utf8')).split('\n')) {
        if (/^\s*(#|$)/.test(line)) continue;
        const assignment = /^(\w+)=(.*)$/.exec(line);
        if (assignment) vars[assignment[1]!] = assignment[2]!;
        else {
          const m = /^(?:\S+\s+){5}(\S+)\s+(.+)$/.exec(line);
          expect(m, line).to.not.equal(null);
          lines.push({ user: m![1]!, command: m![2]! });
        }
      }
      return { vars, lines };
    }

    it('keeps the .jsonl log pure JSON Lines, mails only failures, and writes a textfile promtool accepts', () =>
      withDatabase('examples_cron', async (db) => {
        const { vars, lines } = await crontab();
        expect(lines).to.have.length(2);
        // cron turns % into a newline; a command must not hold one.
        for (const { command } of lines) expect(command).not.to.contain('%');
        const p = await makeProfile(db, { extra: 'repository: { strategy: tar }' });
        try {
          await mkdir(join(dir, 'log'));
          await mkdir(join(dir, 'textfile'));
          const local = (command: string) =>
            command
              .replaceAll('/etc/backplan/aiida-prod.yaml', p.manifest)
              .replaceAll('/var/log/backplan/', `${dir}/log/`)
              .replaceAll('/var/lib/node_exporter/textfile/', `${dir}/textfile/`);
          const env = { PATH: `${await backplanOnPath(dir)}:${process.env.PATH}` };
          const [backup, check] = lines.map((l) => local(l.command));
          expect(backup).to.match(/^backplan run --json /);
          expect(check).to.match(/^backplan check .*--format prometheus/);

          // One good night, then one whose before-hook fails.
          const good = await run(vars.SHELL!, ['-c', backup!], { env });
          expect(good.code).to.equal(0);
          expect(good.stdout + good.stderr, 'a good run gives cron nothing to mail').to.equal('');
          await writeFile(p.manifest, (await readFile(p.manifest, 'utf8')) + '\nhooks: { before: [{ run: "false" }] }\n');
          const bad = await run(vars.SHELL!, ['-c', backup!], { env });
          expect(bad.code).to.equal(1);
          expect(bad.stderr, 'the failure is mailed').to.match(/before.*false/s);

          const log = (await readFile(join(dir, 'log', 'aiida-prod.jsonl'), 'utf8')).trim().split('\n');
          const events = log.map((line) => {
            expect(() => JSON.parse(line), `a .jsonl line that is no JSON: ${line}`).not.to.throw();
            return JSON.parse(line) as { type: string; status?: string };
          });
          expect(events.filter((e) => e.type === 'run-end').map((e) => e.status)).to.deep.equal(['ok', 'failed']);

          const checked = await run(vars.SHELL!, ['-c', check!], { env });
          expect(checked.code, checked.stderr).to.equal(0);
          expect(await readdir(join(dir, 'textfile'))).to.deep.equal(['backplan-aiida-prod.prom']);
          const prom = await readFile(join(dir, 'textfile', 'backplan-aiida-prod.prom'), 'utf8');
          expect(prom).to.match(/^backplan_last_run_success\{backup_job="test-job"\} 0$/m);
          expect(prom).to.match(/^backplan_snapshots\{backup_job="test-job",state="complete"\} 1$/m);
          if (onPath('promtool')) {
            expect(await runWithInput('promtool', ['check', 'metrics'], prom), 'promtool check metrics').to.deep.equal({ code: 0, output: '' });
          }
        } finally {
          await p.cleanup();
        }
      }));
  });

  describe('systemd', () => {
    const unitFile = join(examples, 'systemd', 'backplan@.service');

    /** The unit's `Key=value` settings, every value of a key repeated. */
    async function settings(): Promise<Map<string, string[]>> {
      const map = new Map<string, string[]>();
      for (const line of (await readFile(unitFile, 'utf8')).split('\n')) {
        const m = /^(\w+)=(.*)$/.exec(line);
        if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
      }
      return map;
    }

    /** The unit and timer in a folder, ExecStart pointing at this checkout's CLI (verify checks it exists). */
    async function unitCopy(): Promise<string> {
      const units = join(dir, 'units');
      await mkdir(units);
      const bin = await backplanOnPath(dir);
      const unit = await readFile(unitFile, 'utf8');
      await writeFile(join(units, 'backplan@.service'), unit.replaceAll('/usr/local/bin/backplan', join(bin, 'backplan')));
      await cp(join(examples, 'systemd', 'backplan@.timer'), join(units, 'backplan@.timer'));
      return units;
    }

    it('systemd-analyze verify accepts the unit and the timer without a word', async function () {
      if (!onPath('systemd-analyze')) this.skip();
      const units = await unitCopy();
      const r = await run('systemd-analyze', ['verify', join(units, 'backplan@aiida-prod.service'), join(units, 'backplan@aiida-prod.timer')]);
      expect({ code: r.code, stderr: r.stderr }).to.deep.equal({ code: 0, stderr: '' });
    });

    it('systemd-analyze security rates the unit at most 1.6 (borgmatic\'s unit: 2.7; before hardening: 9.2)', async function () {
      if (!onPath('systemd-analyze')) this.skip();
      const r = await run('systemd-analyze', ['security', '--offline=yes', join(await unitCopy(), 'backplan@.service')]);
      const level = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
      expect(level, r.stdout + r.stderr).to.not.equal(null);
      expect(Number(level![1]), r.stdout).to.be.at.most(1.6);
    });

    it('the unit runs the command it names, with its environment, and backs up the manifest', () =>
      withDatabase('examples', async (db) => {
        const unit = await settings();
        const exec = unit.get('ExecStart')![0]!.split(' ');
        expect(exec[0]).to.equal('/usr/local/bin/backplan');
        // %C is systemd's cache root (/var/cache for a system unit): here a folder of the test's.
        const environment = Object.fromEntries((unit.get('Environment') ?? []).map((v) => v.replace(/%C/g, join(dir, 'cache')).split(/=(.*)/s).slice(0, 2)));
        const p = await makeProfile(db, { extra: 'repository: { strategy: tar }' });
        try {
          const args = exec.slice(1).map((a) => a.replace('/etc/backplan/%i.yaml', p.manifest));
          expect(args.slice(0, 3)).to.deep.equal(['run', '--wait-lock', '10m']);
          expect(args).to.include(p.manifest);
          const r = await run(join(await backplanOnPath(dir), 'backplan'), args, { cwd: dir, env: environment });
          expect(r.code, r.stderr).to.equal(0);
          expect(r.stderr).to.match(/ run ok in /);
          const state = await expectOnlySoundSnapshots(p.destination);
          expect(state.published).to.have.length(1);
          expect(state.latest).to.equal(state.published[0]);
        } finally {
          await p.cleanup();
        }
      }));

    it('systemctl stop (SIGTERM to backplan alone, KillMode=mixed) ends cleanly: exit 143, listed in SuccessExitStatus, no child left', () =>
      withDatabase('examples_stop', async (db) => {
        const unit = await settings();
        expect(unit.get('KillMode')).to.deep.equal(['mixed']);
        const success = unit.get('SuccessExitStatus')!.flatMap((v) => v.split(/\s+/)).map(Number);
        const p = await makeProfile(db, { nodes: 5, extra: 'repository: { strategy: tar }\nhooks: { before: [{ run: [sleep, "60"] }] }' });
        try {
          const expected = { SIGTERM: 143, SIGINT: 130 } as const;
          for (const signal of ['SIGTERM', 'SIGINT'] as const) {
            const args = unit.get('ExecStart')![0]!.split(' ').slice(1).map((a) => a.replace('/etc/backplan/%i.yaml', p.manifest));
            const child = spawnCli(args, { cwd: p.dir, mark: p.dir });
            for (let i = 0; !(await processesOf(p.dir)).some((x) => /^sleep 60/.test(x.cmdline)); i++) {
              expect(i, 'the before-hook never started').to.be.lessThan(600);
              await new Promise((r) => setTimeout(r, 50));
            }
            child.child.kill(signal);
            const exited = await child.exited;
            expect(exited.code, `${signal}: ${exited.stderr}`).to.equal(expected[signal]);
            expect(await settledProcesses(p.dir, 5000), `${signal}: what backplan left running`).to.deep.equal([]);
            await expectMissing(join(p.destination, '.lock'));
          }
          expect(success, 'a stop is a clean end for systemd').to.include(143);
          expect(success, 'Ctrl-C is not what systemd sends').not.to.include(130);
        } finally {
          await p.cleanup();
        }
      }));
  });
});

async function expectMissing(path: string): Promise<void> {
  const found = await access(path).then(
    () => true,
    () => false,
  );
  expect(found, `${path} exists`).to.equal(false);
}

function runWithInput(command: string, args: string[], input: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr });
    });
    child.stdin!.end(input);
  });
}
