/**
 * Every manifest in test/fixtures/invalid/ holds one kind of mistake (three-mistakes.yaml holds
 * three). Next to NAME.yaml, NAME.expected holds the `file:line:col: message` lines that
 * `backplan validate test/fixtures/invalid/NAME.yaml` must print on stderr, in order. Each was
 * checked by hand against the YAML: unknown keys point at the key, wrong values at the value,
 * missing keys at the mapping that lacks them.
 *
 * The real CLI (dist/bin/backplan.cjs, cwd = repository root) runs once over all fixtures, and
 * once per fixture for one representative of each stage (YAML, variables, schema, graph);
 * a node process costs ~0.5 s of CPU, so one per fixture would blow the suite's time budget.
 * The exit code of every single fixture is checked in-process with the CLI's own mapping
 * (checkFile + exitCodeFor, exactly what `validate` computes).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeFor } from '../src/cli/exit-codes.js';
import { checkFile } from '../src/commands/validate.js';
import { mapLimited } from '../src/util/limited.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const CLI = path.join(ROOT, 'dist/bin/backplan.cjs');
const DIR = 'test/fixtures/invalid';

/** The one variable the unset-variable fixture uses; it must not leak in from the caller. */
const UNSET = 'BACKPLAN_FIXTURE_UNSET_ROOT';

/**
 * Fixtures whose .expected holds what the CLI *should* print but does not yet. Each stays an
 * expected failure until fixed (the test then fails to say so, and the entry goes); meanwhile
 * only "no stack trace" is required of them.
 */
const KNOWN_WRONG: Record<string, string> = {};

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function validate(...files: string[]): Promise<Result> {
  const env = { ...process.env };
  delete env[UNSET];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'validate', ...files], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

const STACK_LINE = /^\s+at /m;

/** `file:line:col: message` lines; hints (indented) and the summary line are left out. */
const POSITIONED = /^(?<file>[^\s:][^:]*):(?<line>\d+):(?<col>\d+): (?<message>.+)$/;
const positioned = (stderr: string) => stderr.split('\n').filter((l) => POSITIONED.test(l));

/** True when `expected` appears in `actual` in the same order (other lines may sit between). */
function inOrder(actual: string[], expected: string[]): boolean {
  let at = 0;
  for (const line of actual) if (line === expected[at]) at++;
  return at === expected.length;
}

const names = readdirSync(path.join(ROOT, DIR))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

describe('backplan validate on invalid manifests (real CLI)', function () {
  this.timeout(120_000);
  /** Positioned stderr lines of the one run over every fixture, by fixture. */
  const linesOf = new Map<string, string[]>();
  let all: Result;
  const single = new Map<string, Result>();
  /** One fixture per stage, each run on its own as a user would. */
  const SINGLE = ['yaml-empty', 'unset-variable', 'three-mistakes', 'step-cycle', 'yaml-alias-bomb', 'version-2'];

  before(async () => {
    delete process.env[UNSET]; // checkFile below reads the test process's environment
    const runs = await mapLimited([names.map((n) => `${DIR}/${n}.yaml`), ...SINGLE.map((n) => [`${DIR}/${n}.yaml`])], 4, (files) => validate(...files));
    all = runs[0]!;
    SINGLE.forEach((name, i) => single.set(name, runs[i + 1]!));
    for (const name of names) linesOf.set(name, []);
    for (const line of positioned(all.stderr)) {
      const file = POSITIONED.exec(line)!.groups!.file!;
      const name = path.basename(file, '.yaml');
      expect(path.dirname(file), line).to.equal(DIR);
      linesOf.get(name)!.push(line);
    }
  });

  const expectedOf = (name: string) => readFileSync(path.join(ROOT, DIR, `${name}.expected`), 'utf8').split('\n').filter(Boolean);

  it('has at least 35 fixtures, each with its .expected lines', () => {
    expect(names.length).to.be.at.least(35);
    for (const name of names) {
      const expected = expectedOf(name);
      expect(expected, `${name}.expected`).to.not.be.empty;
      for (const line of expected) {
        const m = POSITIONED.exec(line);
        expect(m, `${name}.expected: ${line}`).to.not.equal(null);
        expect(m!.groups!.file, `${name}.expected names its own file`).to.equal(`${DIR}/${name}.yaml`);
      }
    }
  });

  it('validating every fixture at once exits 2, without a stack, and counts each one invalid', () => {
    expect(all.code, all.stderr).to.equal(2);
    expect(all.stderr, 'no stack trace').to.not.match(STACK_LINE);
    expect(all.stderr, 'no internal error').to.not.include('internal error');
    expect(all.stdout, 'text format writes to stderr only').to.equal('');
    const summary = new RegExp(`^${names.length} manifests: (\\d+) invalid, \\d+ error\\(s\\)$`, 'm').exec(all.stderr);
    expect(summary, all.stderr).to.not.equal(null);
    expect(Number(summary![1])).to.be.at.least(names.length - Object.keys(KNOWN_WRONG).length);
  });

  for (const name of SINGLE) {
    it(`validate ${name}.yaml alone: exit 2, no stack, its lines`, () => {
      const result = single.get(name)!;
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.not.match(STACK_LINE);
      expect(result.stderr).to.match(/^1 manifest: 1 invalid, \d+ error\(s\)$/m);
      expect(positioned(result.stderr)).to.deep.equal(linesOf.get(name));
    });
  }

  for (const name of names) {
    const file = `${DIR}/${name}.yaml`;
    const known = KNOWN_WRONG[name];
    it(`${name}${known ? ' (known wrong: see KNOWN_WRONG)' : ''}`, async () => {
      const expected = expectedOf(name);
      const got = linesOf.get(name)!;
      if (known) {
        expect(inOrder(got, expected), `${name} now prints its expected lines: remove it from KNOWN_WRONG`).to.equal(false);
        return;
      }
      // The exit code `validate FILE` computes for this file alone: the worst of its errors.
      const errors = await checkFile(file);
      expect(errors, `${file} must be invalid`).to.not.be.empty;
      expect(Math.max(...errors.map((e) => exitCodeFor(e.code))), errors.map((e) => e.code).join(', ')).to.equal(2);
      expect(inOrder(got, expected), `stderr of validate ${file}:\n${got.join('\n')}\nexpected, in order:\n${expected.join('\n')}`).to.equal(true);
      // Nothing but the expected positioned lines: no duplicate or stray error.
      expect(got).to.deep.equal(expected);
    });
  }

  it('reports all three mistakes of three-mistakes.yaml in one run, each with a position', () => {
    const result = single.get('three-mistakes')!;
    const got = positioned(result.stderr);
    expect(got).to.have.length(3);
    const lines = got.map((l) => Number(POSITIONED.exec(l)!.groups!.line));
    expect(new Set(lines).size, 'three different places').to.equal(3);
    expect(result.stderr).to.include('1 manifest: 1 invalid, 3 error(s)');
  });

  it('never echoes a value that looks like a password', () => {
    expect(all.stderr).to.not.include('hunter2');
  });
});
