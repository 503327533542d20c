/**
 * `validate --format github` as GitHub reads it: every line the real CLI prints is parsed with a
 * port of the runner's own parser (support/actions-runner.ts) and compared byte for byte with what
 * `@actions/core` (the toolkit every JavaScript action uses) prints for the same annotation.
 */
import * as core from '@actions/core';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWorkflowCommand } from './support/actions-runner.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const CLI = path.join(ROOT, 'dist/bin/backplan.cjs');
const THREE = 'test/fixtures/invalid/three-mistakes.yaml';

function validateGithub(...files: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'validate', '--format', 'github', ...files], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** What `core.error(message, properties)` writes to stdout. */
function coreError(message: string, properties: core.AnnotationProperties): string {
  const write = process.stdout.write;
  let written = '';
  process.stdout.write = ((chunk: string) => {
    written += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    core.error(message, properties);
  } finally {
    process.stdout.write = write;
  }
  return written;
}

const lines = (s: string) => s.split('\n').filter(Boolean);

describe('validate --format github, read by the Actions runner', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'backplan-annotations-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const name of ['prod,eu.yaml', 'a::b.yaml', '100%,x=y.yaml']) {
    it(`keeps the file name ${JSON.stringify(name)} whole and prints what @actions/core prints`, async () => {
      const file = path.join(dir, name);
      await copyFile(path.join(ROOT, THREE), file);
      const [reference, r] = await Promise.all([validateGithub(THREE), validateGithub(file)]);
      expect(r.code).to.equal(2);
      const expected = lines(reference.stdout).map((l) => parseWorkflowCommand(l)!);
      const got = lines(r.stdout).map((l) => parseWorkflowCommand(l));
      expect(got).to.have.length(3);
      got.forEach((command, i) => {
        expect(command, lines(r.stdout)[i]).to.not.equal(undefined);
        expect(command!.command).to.equal('error');
        expect(command!.properties).to.deep.equal({ ...expected[i]!.properties, file });
        expect(command!.data).to.equal(expected[i]!.data);
        const { line, col } = command!.properties;
        expect(lines(r.stdout)[i] + '\n').to.equal(coreError(command!.data, { file, startLine: Number(line), startColumn: Number(col) }));
      });
    });
  }

  it('escapes a % in the message as @actions/core does and the runner reads it back', async () => {
    // A value with a percent sign and a line break, echoed in the message.
    const file = path.join(dir, 'percent.yaml');
    await writeFile(file, 'version: 1\nname: "50%\\r\\noff"\nprofile: { aiida: { config: /c } }\ndestination: /d\n');
    const r = await validateGithub(file);
    const [line] = lines(r.stdout);
    const parsed = parseWorkflowCommand(line!)!;
    expect(parsed.data).to.match(/^name must match .*\(got "50%\\r\\noff"\)/);
    expect(line + '\n').to.equal(coreError(parsed.data, { file, startLine: 2, startColumn: 7 }));
  });

  it('past 10 errors in a step: 9 annotations, a 10th that counts the rest, the rest as log lines', async () => {
    const file = path.join(dir, 'many.yaml');
    const unknown = Array.from({ length: 12 }, (_, i) => `extra${String(i).padStart(2, '0')}: 1`);
    await writeFile(file, ['version: 1', 'name: many', 'profile: { aiida: { config: /c } }', 'destination: /d', ...unknown, ''].join('\n'));
    const r = await validateGithub(file);
    expect(r.code).to.equal(2);
    const out = lines(r.stdout);
    const commands = out.map((l) => parseWorkflowCommand(l)).filter((c) => c !== undefined);
    expect(commands, 'annotations GitHub shows').to.have.length(10);
    expect(commands.slice(0, 9).map((c) => c.properties.line)).to.deep.equal(['5', '6', '7', '8', '9', '10', '11', '12', '13']);
    expect(commands[9]!.properties).to.not.have.property('file');
    expect(commands[9]!.data).to.equal("3 more errors are listed in this step's log (GitHub shows at most 10 annotations per step)");
    const rest = out.filter((l) => parseWorkflowCommand(l) === undefined);
    expect(rest).to.deep.equal(
      [14, 15, 16].map((n) => `${file}:${n}:1: unknown key "extra${String(n - 5).padStart(2, '0')}" at the top level; allowed keys: version, name, profile, destination, database, repository, encryption, retention, hooks, notify, steps`),
    );
    expect(r.stderr).to.equal('1 manifest: 1 invalid, 12 error(s)\n');
  });
});
