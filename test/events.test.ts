/**
 * `run --json` prints one event per line, each valid against schemas/events.schema.json (ajv,
 * strict), whatever happens: a run that succeeds, one that fails, one that is locked out, a
 * manifest that is invalid, a dry run.
 */
import { expect } from 'chai';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { spawnHolder } from './support/lock-holder.js';
import { writeManifest } from './support/manifests.js';
import { cli, useProfile, repoRoot } from './support/profile.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv, formats: string[]) => Ajv;

interface Event {
  v: number;
  type: string;
  [key: string]: unknown;
}

describe('run --json events', function () {
  this.timeout(120_000);
  const p = useProfile('events', { nodes: 5 });
  let check: (e: unknown) => boolean;
  before(async () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    addFormats(ajv, ['date-time']);
    check = ajv.compile(JSON.parse(await readFile(join(repoRoot, 'schemas/events.schema.json'), 'utf8')) as object);
  });

  /** Runs the CLI; every stdout line must be one valid event. */
  async function events(args: string[]): Promise<{ code: number; events: Event[]; stderr: string }> {
    const r = await cli(args);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    const parsed = lines.map((l) => JSON.parse(l) as Event);
    for (const [i, e] of parsed.entries()) expect(check(e), `line ${i + 1} ${lines[i]}: ${JSON.stringify((check as unknown as { errors: unknown }).errors)}`).to.equal(true);
    return { code: r.code, events: parsed, stderr: r.stderr };
  }

  it('a run that succeeds: run-start first, run-end last, every step started and ended, whole-millisecond durations', async () => {
    const file = await writeManifest(p, 'ok.yaml', 'repository: { strategy: tar }\nhooks:\n  before: [{ run: [echo, hook says hello] }]');
    const { code, events: stream } = await events(['run', file, '--json']);
    expect(code).to.equal(0);
    expect(stream[0]).to.include({ v: 1, type: 'run-start', job: 'test-job' });
    expect(stream.at(-1)).to.include({ type: 'run-end', status: 'ok' });
    const started = stream.filter((e) => e.type === 'step-start').map((e) => e.step);
    const ended = stream.filter((e) => e.type === 'step-end').map((e) => e.step);
    expect([...ended].sort()).to.deep.equal([...started].sort());
    expect(stream.find((e) => e.type === 'step-log' && e.message === 'hook says hello')).to.include({ level: 'info' });
  });

  it('a run that fails and one locked out: the right statuses, and a locked run releases nothing', async () => {
    const failing = await writeManifest(p, 'fail.yaml', 'repository: { strategy: tar }\nhooks:\n  before: [{ run: "false" }]');
    const failed = await events(['run', failing, '--json']);
    expect(failed.code).to.equal(1);
    expect(failed.events.at(-1)).to.include({ type: 'run-end', status: 'failed' });
    expect(failed.events.find((e) => e.type === 'step-end' && e.status === 'failed')).to.have.property('error');

    const holder = spawnHolder('backplan');
    try {
      await mkdir(p.destination, { recursive: true });
      await writeFile(join(p.destination, '.lock'), holder.lock());
      const locked = await events(['run', failing, '--json']);
      expect(locked.code).to.equal(75);
      expect(locked.events.at(-1)).to.include({ type: 'run-end', status: 'locked' });
      expect(locked.events.find((e) => e.type === 'step-end' && e.step === 'unlock')).to.include({ status: 'skipped' });
      expect(JSON.parse(await readFile(join(p.destination, '.lock'), 'utf8'))).to.include({ pid: holder.pid });
    } finally {
      await holder.stop();
    }
  });

  it('an invalid manifest: one positioned error event per mistake, exit 2; --dry-run: one plan event', async () => {
    const bad = join(p.dir, 'bad.yaml');
    await writeFile(bad, 'version: 1\nname: Bad Name\n');
    const invalid = await events(['run', bad, '--json']);
    expect(invalid.code).to.equal(2);
    expect(invalid.events.length).to.be.greaterThan(1);
    for (const e of invalid.events) expect(e).to.include({ type: 'error', file: bad });
    expect(invalid.events.map((e) => [e.line, e.col])).to.deep.include([2, 7]);
    expect(invalid.stderr).to.contain(`${bad}:2:7:`);

    const dry = await events(['run', p.manifest, '--dry-run', '--json']);
    expect(dry.code).to.equal(0);
    expect(dry.events).to.have.length(1);
    expect(dry.events[0]).to.include({ type: 'plan' });
    expect((dry.events[0]!.plan as { steps: unknown[] }).steps.length).to.be.greaterThan(3);
  });
});
