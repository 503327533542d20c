import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackplanError, BackplanErrors } from '../src/errors.js';
import { checkFile } from '../src/commands/validate.js';
import { planFile } from '../src/commands/plan.js';
import { cli, repoRoot } from './support/profile.js';

const RUNS = Number(process.env.BACKPLAN_FUZZ_RUNS ?? 500);
const SAMPLES = ['aiida-1x-legacy.yaml', 'aiida-2x-prod.yaml', 'dss-datadir.yaml'];

/** Text edits that keep a manifest looking like one while breaking it in many ways. */
function mutation(): fc.Arbitrary<(text: string) => string> {
  const junk = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('{', '}', '[', ']', ':', '- ', '&a', '*a', '!!binary', '%YAML 1.2', '---', '\t', '"', "'", '|', '>', '#', '${', '${X', '$$', '\u0000', '\uFEFF'),
    fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)),
    fc.integer({ min: 1, max: 60 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  );
  return fc.oneof(
    fc.tuple(fc.nat(), junk).map(([at, s]) => (t: string) => t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1))),
    fc.tuple(fc.nat(), fc.nat({ max: 50 })).map(([at, n]) => (t: string) => t.slice(0, at % (t.length + 1)) + t.slice((at % (t.length + 1)) + n)),
    fc.nat().map((line) => (t: string) => {
      const lines = t.split('\n');
      lines.splice(line % lines.length, 1);
      return lines.join('\n');
    }),
    fc.tuple(fc.nat(), fc.constantFrom('  ', '    ', '\t', '- ')).map(([line, indent]) => (t: string) => {
      const lines = t.split('\n');
      lines[line % lines.length] = indent + lines[line % lines.length];
      return lines.join('\n');
    }),
  );
}

/** Whole documents no sample resembles: deep nesting, alias bombs, wrong root types, junk. */
function wildDocument(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 1, max: 5000 }).map((d) => 'a:\n' + Array.from({ length: Math.min(d, 300) }, (_, i) => ' '.repeat(i + 2) + `k${i}:`).join('\n') + ' 1'),
    fc.integer({ min: 2, max: 12 }).map((levels) => {
      const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
      return lines.join('\n');
    }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.constantFrom('', '---', '- 1\n- 2', 'version: 1', 'version: 1\nname: x\nprofile: {}\ndestination: ""'),
  );
}

describe('hostile manifests', function () {
  this.timeout(600_000);
  let dir: string;
  let samples: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-fuzz-'));
    samples = await Promise.all(SAMPLES.map((f) => readFile(join(repoRoot, 'manifests', f), 'utf8')));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** validate and plan either accept it or reject it with positioned BackplanErrors; nothing else. */
  async function judge(text: string, i: number): Promise<void> {
    const file = join(dir, `m${i}.yaml`);
    await writeFile(file, text);
    const errors = await checkFile(file);
    for (const e of errors) {
      expect(e).to.be.instanceOf(BackplanError);
      expect(e.pos, `${e.code} ${e.message}`).to.not.equal(undefined);
    }
    try {
      await planFile(file, { offline: true });
      expect(errors, 'plan accepted what validate rejected').to.deep.equal([]);
    } catch (e) {
      const list = e instanceof BackplanErrors ? e.errors : [e];
      for (const err of list) expect(err, String(err)).to.be.instanceOf(BackplanError);
    }
  }

  it(`judges ${RUNS} mutated and generated manifests without crashing or hanging`, async () => {
    let i = 0;
    const document = fc.oneof(
      { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.array(mutation(), { minLength: 1, maxLength: 4 })).map(([s, ms]) => ms.reduce((t, m) => m(t), samples[s % samples.length]!)) },
      { weight: 1, arbitrary: wildDocument() },
    );
    await fc.assert(
      fc.asyncProperty(document, async (text) => {
        const started = Date.now();
        await judge(text, i++);
        expect(Date.now() - started, 'one manifest took over 5 s').to.be.below(5000);
      }),
      { numRuns: RUNS, seed: Number(process.env.BACKPLAN_FUZZ_SEED ?? 20261123) },
    );
  });

  it('the CLI answers an alias bomb, binary junk and a 5 MB string with exit 2 and no stack trace', async () => {
    const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`)].join('\n');
    const cases = { bomb, binary: '\u0000\u0001\u00ff\uFFFD{{{[[[', huge: `version: 1\nname: ${'y'.repeat(5_000_000)}\n` };
    for (const [name, text] of Object.entries(cases)) {
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, text);
      for (const command of [['validate', file], ['plan', '--offline', file]]) {
        const r = await cli(command);
        expect(r.code, `${name} ${command[0]}: ${r.stderr.slice(0, 300)}`).to.equal(2);
        expect(r.stderr).to.not.match(/^\s+at /m);
        expect(r.stderr).to.match(/:\d+:\d+: /);
      }
    }
  });
});
