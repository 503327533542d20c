/**
 * GitHub Actions workflows as GitHub reads them (its own parser, @actions/workflow-parser), and
 * their `run:` steps run as a runner runs them: `bash -e`, RUNNER_TEMP, GITHUB_PATH,
 * GITHUB_STEP_SUMMARY. Plus an `npm` stand-in for the install steps, since tests have no registry.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { register } from 'node:module';
import { basename, join } from 'node:path';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import { repoRoot } from './profile.js';

register(new URL('./json-modules.js', import.meta.url));
const parser = await import('@actions/workflow-parser');

export interface WorkflowStep {
  name?: string;
  run?: string;
  uses?: string;
}

export interface WorkflowJob {
  id: string;
  env: Record<string, string>;
  steps: WorkflowStep[];
}

export interface ParsedWorkflow {
  /** What GitHub would reject the workflow for. */
  errors: string[];
  jobs: WorkflowJob[];
}

export async function parseWorkflowFile(path: string): Promise<ParsedWorkflow> {
  return parseWorkflowText(basename(path), await readFile(path, 'utf8'));
}

export async function parseWorkflowText(name: string, content: string): Promise<ParsedWorkflow> {
  const parsed = parser.parseWorkflow({ name, content }, new parser.NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (!parsed.value) return { errors, jobs: [] };
  const template = await parser.convertWorkflowTemplate(parsed.context, parsed.value);
  errors.push(...(template.errors ?? []).map((e) => e.Message));
  const jobs = (template.jobs ?? []).flatMap((job): WorkflowJob[] => {
    if (job.type !== 'job') return [];
    const env: Record<string, string> = {};
    for (const { key, value } of job.env ?? []) env[key.toString()] = literal(value);
    const steps = job.steps.map((s): WorkflowStep => ({
      name: 'name' in s && s.name ? s.name.toString() : undefined,
      run: 'run' in s ? literal(s.run) : undefined,
      uses: 'uses' in s ? s.uses.value : undefined,
    }));
    return [{ id: job.id.value, env, steps }];
  });
  return { errors, jobs };
}

/** The examples hold no `${{ }}` expressions: every value the tests read is a plain string. */
function literal(token: TemplateToken): string {
  if (!parser.isString(token)) throw new Error(`expected a plain string, found ${JSON.stringify(token)}`);
  return token.value;
}

export interface StepResult {
  name?: string;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a job's `run:` steps in order (an action's `uses:` is skipped) until one fails, as the
 * runner does: `bash -e` in `cwd`, the job's env under `env`, GITHUB_PATH folders prepended to
 * PATH for the steps after the one that wrote them.
 */
export async function runJob(job: WorkflowJob, cwd: string, env: NodeJS.ProcessEnv): Promise<StepResult[]> {
  const runnerTemp = join(cwd, '.runner-temp');
  await mkdir(runnerTemp, { recursive: true });
  const githubPath = join(runnerTemp, 'github-path');
  await writeFile(githubPath, '');
  const results: StepResult[] = [];
  for (const step of job.steps) {
    if (step.run === undefined) continue;
    const added = (await readFile(githubPath, 'utf8')).split('\n').filter(Boolean).reverse();
    const path = [...added, env.PATH ?? process.env.PATH].join(':');
    const stepEnv = { ...process.env, ...job.env, RUNNER_TEMP: runnerTemp, GITHUB_PATH: githubPath, ...env, PATH: path };
    const result = await new Promise<StepResult>((resolve) => {
      execFile('bash', ['-e', '-c', step.run!], { cwd, env: stepEnv }, (error, stdout, stderr) => {
        resolve({ name: step.name, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      });
    });
    results.push(result);
    if (result.code !== 0) break;
  }
  return results;
}

/**
 * A folder holding `npm` as far as the workflows use it, `npm install --global --prefix DIR FILE`:
 * it installs a local package tarball there (dependencies from this checkout's node_modules, as
 * tests cannot reach a registry) and refuses anything else, a registry name above all.
 */
export async function npmStandIn(dir: string): Promise<string> {
  const bin = join(dir, 'npm-stand-in');
  await mkdir(bin, { recursive: true });
  const script = `#!${process.execPath}
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const args = process.argv.slice(2);
const fail = (m) => { process.stderr.write('npm (test stand-in): ' + m + '\\n'); process.exit(1); };
if (args[0] !== 'install' || !(args.includes('--global') || args.includes('-g'))) fail('only install --global is supported: ' + args.join(' '));
let prefix = process.env.NPM_CONFIG_PREFIX;
const specs = [];
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--prefix') prefix = args[++i];
  else if (!args[i].startsWith('-')) specs.push(args[i]);
}
if (specs.length !== 1 || !fs.existsSync(specs[0])) fail('refusing to install ' + specs.join(' ') + ' from a registry: only a local tarball is installed');
if (!prefix) fail('no --prefix');
const staging = path.join(prefix, 'lib', 'node_modules', '.staging');
fs.mkdirSync(staging, { recursive: true });
execFileSync('tar', ['-xzf', specs[0], '-C', staging, '--strip-components=1']);
const pkg = JSON.parse(fs.readFileSync(path.join(staging, 'package.json'), 'utf8'));
const dest = path.join(prefix, 'lib', 'node_modules', pkg.name);
fs.rmSync(dest, { recursive: true, force: true });
fs.renameSync(staging, dest);
fs.symlinkSync(${JSON.stringify(join(repoRoot, 'node_modules'))}, path.join(dest, 'node_modules'));
fs.mkdirSync(path.join(prefix, 'bin'), { recursive: true });
for (const [name, file] of Object.entries(pkg.bin)) {
  fs.writeFileSync(path.join(prefix, 'bin', name), '#!/bin/sh\\nexec "' + process.execPath + '" "' + path.join(dest, file) + '" "$@"\\n', { mode: 0o755 });
}
`;
  await writeFile(join(bin, 'npm'), script);
  await chmod(join(bin, 'npm'), 0o755);
  return bin;
}
