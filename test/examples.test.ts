import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { expectOnlySoundSnapshots } from './support/destination.js';
import { withDatabase } from './support/pg.js';
import { cliPath, makeProfile, repoRoot } from './support/profile.js';

interface WorkflowStep {
  name?: string;
  run?: string;
  uses?: string;
}
interface Workflow {
  jobs: Record<string, { env?: Record<string, string>; steps: WorkflowStep[] }>;
}

async function workflow(name: string): Promise<Workflow> {
  return parse(await readFile(join(repoRoot, 'examples/github-actions', name), 'utf8')) as Workflow;
}

/** A PATH folder whose `backplan` is this checkout's CLI, as `npm install --global` would give. */
async function backplanOnPath(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'backplan'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  await chmod(join(bin, 'backplan'), 0o755);
  return bin;
}

/** Runs a workflow step's `run:` script with bash, as GitHub's runner does (`bash -e {0}`). */
function runStep(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-e', '-c', script], { cwd, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The steps that run backplan (installing it is the one step a test replaces). */
function backplanSteps(w: Workflow): WorkflowStep[] {
  return Object.values(w.jobs).flatMap((j) => j.steps.filter((s) => s.run && !s.run.includes('npm install')));
}

describe('examples', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-examples-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('the pull-request workflow validates with annotations and writes each plan to the job summary', async () => {
    const w = await workflow('validate-manifests.yml');
    await cp(join(repoRoot, 'manifests'), join(dir, 'manifests'), { recursive: true });
    const summary = join(dir, 'summary.md');
    const env = { ...w.jobs.validate!.env, PATH: `${await backplanOnPath(dir)}:${process.env.PATH}`, GITHUB_STEP_SUMMARY: summary };
    const steps = backplanSteps(w);
    expect(steps.map((s) => s.name)).to.deep.equal(['Validate (inline annotations)', 'Plan (job summary)']);
    for (const step of steps) {
      const r = await runStep(step.run!, dir, env);
      expect(r.code, `${step.name}: ${r.stderr}`).to.equal(0);
    }
    const text = await readFile(summary, 'utf8');
    expect(text.match(/```mermaid/g)).to.have.length(3);
    expect(text).to.contain('| repository | repo-incremental | db-snapshot |');

    await writeFile(join(dir, 'manifests', 'broken.yaml'), 'version: 1\nname: Broken\n');
    const broken = await runStep(steps[0]!.run!, dir, env);
    expect(broken.code).to.equal(2);
    expect(broken.stdout).to.match(/^::error file=manifests\/broken\.yaml,line=2,col=7::name must match/m);
  });

  it('the scheduled workflow backs up, keeps the JSON event log and passes the freshness gate', () =>
    withDatabase('examples', async (db) => {
      const w = await workflow('scheduled-backup.yml');
      const p = await makeProfile(db, { extra: 'repository: { strategy: tar }' });
      try {
        const env = { ...w.jobs.backup!.env, MANIFEST: p.manifest, PATH: `${await backplanOnPath(dir)}:${process.env.PATH}` };
        for (const step of backplanSteps(w)) {
          const r = await runStep(step.run!, dir, env);
          expect(r.code, `${step.name}: ${r.stderr}`).to.equal(0);
        }
        const events = (await readFile(join(dir, 'backplan-events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; status?: string });
        expect(events.at(-1)).to.include({ type: 'run-end', status: 'ok' });
      } finally {
        await p.cleanup();
      }
    }));

  it('the systemd unit\'s ExecStart, with its Environment, backs up the manifest it names', () =>
    withDatabase('examples', async (db) => {
      const unit = await readFile(join(repoRoot, 'examples/systemd/backplan@.service'), 'utf8');
      const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit)!;
      expect(exec[1]).to.equal('/usr/local/bin/backplan');
      const environment = Object.fromEntries([...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      const p = await makeProfile(db, { extra: 'repository: { strategy: tar }' });
      try {
        // The command line as written, /etc/backplan/%i.yaml standing for this profile's manifest.
        const args = exec[2]!.replace('/etc/backplan/%i.yaml', p.manifest).split(' ');
        expect(args.slice(0, 3)).to.deep.equal(['run', '--wait-lock', '10m']);
        expect(args).to.include(p.manifest);
        const r = await runStep(`backplan ${args.join(' ')}`, dir, { ...environment, PATH: `${await backplanOnPath(dir)}:${process.env.PATH}` });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stderr).to.match(/ run ok in /);
        const state = await expectOnlySoundSnapshots(p.destination);
        expect(state.published).to.have.length(1);
        expect(state.latest).to.equal(state.published[0]);
      } finally {
        await p.cleanup();
      }
    }));
});
