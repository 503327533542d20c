/**
 * Golden plans of the sample manifests in manifests/, against the fixture profiles in
 * test/fixtures/profiles/: load → validate → resolve → plan with fixed facts, printed in every
 * format and compared with test/fixtures/golden/<sample>.{txt,json,mmd,md}.
 *
 *   UPDATE_GOLDEN=1 npx mocha dist/test/plan-golden.test.js   # rewrite the goldens, then review them
 */
import { expect } from 'chai';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest } from '../src/validate/read-manifest.js';
import type { ManifestSource } from '../src/validate/read-manifest.js';
import type { Manifest } from '../src/manifest.js';
import { formatPlan } from '../src/plan/format/index.js';
import type { PlanFormat } from '../src/plan/format/index.js';
import { openDestination } from '../src/destination/registry.js';
import type { SnapshotEntry } from '../src/destination/types.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { makePlan } from '../src/plan/make-plan.js';
import type { PlanFacts } from '../src/plan/make-plan.js';
import type { Plan, PlannedStep } from '../src/plan/types.js';
import { resolveProfile } from '../src/resolve/resolve.js';

// Tests run from dist/test; manifests and fixtures stay in the source tree.
const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const PROFILES = path.join(ROOT, 'test/fixtures/profiles');
const GOLDEN = path.join(ROOT, 'test/fixtures/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Every password the fixture profiles and environments hold; none may reach a plan. */
const SECRET = 'fixture-secret';

const EXTENSIONS: Record<PlanFormat, string> = { text: 'txt', json: 'json', mermaid: 'mmd', markdown: 'md' };

interface Sample {
  name: string;
  /** The environment the manifest is read and resolved in: only what the sample needs. */
  env: NodeJS.ProcessEnv;
}

const SAMPLES: Sample[] = [
  { name: 'aiida-1x-legacy', env: { AIIDA_PATH: path.join(PROFILES, 'aiida1') } },
  { name: 'aiida-2x-prod', env: { AIIDA_PATH: path.join(PROFILES, 'aiida2') } },
  // The DSS profile names no password: PGPASSWORD is the way in, and it must be masked too.
  { name: 'dss-datadir', env: { DSS_DATA_DIR: path.join(PROFILES, 'dss'), PGPASSWORD: `${SECRET}-pgpassword` } },
];

function facts(overrides: Partial<PlanFacts> = {}): PlanFacts {
  return { now: new Date('2026-11-22T03:00:00Z'), pgDumpMajor: 15, exportedSnapshots: true, snapshots: [], notes: [], ...overrides };
}

async function planOf(sample: Sample, overrides: Partial<PlanFacts> = {}): Promise<Plan> {
  const file = path.join(ROOT, 'manifests', `${sample.name}.yaml`);
  const source = await readManifest(file, sample.env);
  expect(source.errors.map((e) => e.message), `${sample.name} must be valid`).to.deep.equal([]);
  const valid = source as ManifestSource & { manifest: Manifest };
  const resolution = await resolveProfile(valid.manifest, { positionOf: source.positionOf, env: sample.env });
  return makePlan({ source: valid, resolution, destination: openDestination(valid.manifest.destination), facts: facts(overrides) });
}

/** The plan as printed, with machine-specific paths replaced so goldens are portable. */
function portable(text: string): string {
  let out = text.split(ROOT).join('<root>');
  const home = os.homedir();
  if (home && home !== '/' && !ROOT.startsWith(home + '/')) out = out.split(home).join('<home>');
  return out;
}

const step = (plan: Plan, id: string): PlannedStep => {
  const found = plan.steps.find((s) => s.id === id);
  expect(found, `step ${id}`).to.not.equal(undefined);
  return found!;
};

/** Every step the given one depends on, directly or not. */
function ancestors(plan: Plan, id: string): Set<string> {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const walk = (at: string) => {
    for (const need of byId.get(at)?.needs ?? []) {
      if (!seen.has(need)) {
        seen.add(need);
        walk(need);
      }
    }
  };
  walk(id);
  return seen;
}

describe('plan goldens of the sample manifests', () => {
  if (UPDATE) before(() => mkdir(GOLDEN, { recursive: true }));

  for (const sample of SAMPLES) {
    describe(sample.name, () => {
      let plan: Plan;
      before(async () => {
        plan = await planOf(sample);
      });

      for (const [format, ext] of Object.entries(EXTENSIONS) as [PlanFormat, string][]) {
        it(`matches ${sample.name}.${ext} (${format})`, async () => {
          const actual = portable(formatPlan(plan, format));
          const golden = path.join(GOLDEN, `${sample.name}.${ext}`);
          if (UPDATE) await writeFile(golden, actual);
          expect(actual).to.equal(await readFile(golden, 'utf8'));
        });

        it(`never shows a password (${format})`, () => {
          const printed = formatPlan(plan, format);
          expect(printed).to.not.include(SECRET);
          expect(printed).to.not.include('guest'); // the broker password of the AiiDA configs
        });
      }

      it('copies the repository beside the dump, inside the exported snapshot', () => {
        const repository = step(plan, 'repository');
        expect(repository.needs).to.deep.equal(['db-snapshot']);
        expect(ancestors(plan, 'repository')).to.not.include('db-dump');
        expect(ancestors(plan, 'db-dump')).to.not.include('repository');
        expect(step(plan, 'db-dump').needs).to.deep.equal(['db-snapshot']);
        expect(step(plan, 'db-snapshot').options).to.deep.include({ readers: ['db-dump', 'repository'] });
        expect(step(plan, 'db-dump').commands.join('\n')).to.include('--snapshot=');
        expect(step(plan, 'finalize').needs).to.include.members(['db-dump', 'repository', 'config']);
      });

      it('runs no user command and no pg_dump through a shell string', () => {
        for (const s of plan.steps.filter((x) => x.kind === 'hook' || x.kind === 'exec')) {
          const argv = (s.options as { argv: unknown }).argv;
          expect(argv, s.id).to.be.an('array').that.is.not.empty;
          for (const word of argv as unknown[]) expect(word, s.id).to.be.a('string');
        }
        const stages = (step(plan, 'db-dump').options as { stages: string[][] }).stages;
        expect(stages[0]![0]).to.equal('pg_dump');
        // The password travels in the child's environment: never an argument (--no-password is fine).
        for (const word of stages.flat()) expect(word).to.not.match(/PGPASSWORD|^--password|^-W$|fixture-secret/);
      });
    });
  }

  it('the 1.x sample picks its named profile, hooks bracket the run and the daemon always restarts', async () => {
    const plan = await planOf(SAMPLES[0]!);
    expect(plan.profile.aiida).to.deep.include({ profileName: 'legacy-2019', aiidaVersion: 1 });
    expect(plan.profile.repository).to.deep.equal({ path: '/srv/aiida/repository/legacy-2019', layout: 'aiida-1' });
    expect(step(plan, 'before-1').needs).to.deep.equal(['lock']);
    expect(step(plan, 'db-snapshot').needs).to.deep.equal(['before-1']);
    expect(step(plan, 'config').needs).to.deep.equal(['before-1']);
    expect(step(plan, 'after-1')).to.deep.include({ needs: ['finalize'], always: true });
    expect((step(plan, 'after-1').options as { argv: string[] }).argv).to.deep.equal(['verdi', 'daemon', 'start']);
    expect(step(plan, 'repository').kind).to.equal('repo-rsync');
    expect(step(plan, 'db-dump').options).to.deep.include({ format: 'plain', compression: 'gzip', artefact: 'database.sql.gz' });
  });

  it('the 2.x sample syncs off-site only after finalize', async () => {
    const plan = await planOf(SAMPLES[1]!);
    expect(step(plan, 'offsite')).to.deep.include({ kind: 'exec', needs: ['finalize'], timeoutMs: 4 * 3_600_000 });
    expect(ancestors(plan, 'offsite')).to.include.members(['db-dump', 'repository', 'config', 'finalize']);
    expect(step(plan, 'unlock').needs).to.include('offsite');
    expect(step(plan, 'repository').options).to.deep.include({ full: true, layout: 'disk-objectstore', periodicityMs: 2 * 86_400_000 });
  });

  it('the DSS sample copies both config paths and leaves scratch folders out of the tarball', async () => {
    const plan = await planOf(SAMPLES[2]!);
    const dss = path.join(PROFILES, 'dss');
    expect(plan.profile.configPaths).to.deep.equal([path.join(dss, 'config'), path.join(dss, 'install.ini')]);
    const stages = (step(plan, 'repository').options as { stages: string[][] }).stages;
    expect(stages[0]).to.include.members(['--exclude=tmp', '--exclude=caches', '--exclude=logs', '--exclude=run']);
    expect(step(plan, 'db-dump').commands[0]).to.include('PGPASSWORD=***');
  });

  describe('with earlier snapshots at the destination', () => {
    /** One complete nightly snapshot of `job` at 03:00 for each of the `days` days before the fixed now. */
    function nightlies(destination: string, job: string, strategy: string, days: number, kind: (day: number) => 'full' | 'incr' = () => 'full'): SnapshotEntry[] {
      let parent: string | undefined;
      return Array.from({ length: days }, (_, i) => {
        const day = days - i;
        const time = new Date(Date.parse('2026-11-22T03:00:00Z') - day * 86_400_000);
        const id = `${time.toISOString().slice(0, 10)}T030000Z-${kind(day)}`;
        const record = { format: 'backplan-snapshot/1', id, kind: kind(day), job, parent: kind(day) === 'incr' ? parent : undefined, artefacts: [], repository: { strategy } } as unknown as SnapshotRecord;
        parent = id;
        return { id, name: id, dir: `${destination}/${id}`, time, kind: kind(day), recorded: true, record, pinned: false, recordFile: true };
      });
    }

    it('the rsync sample hard-links to the latest snapshot and prunes beyond 7 dailies / 4 weeklies', async () => {
      const plan = await planOf(SAMPLES[0]!, { snapshots: nightlies('/mnt/backup/aiida-1x-legacy', 'aiida-1x-legacy', 'rsync', 40) });
      const argv = (step(plan, 'repository').options as { argv: string[] }).argv;
      expect(argv).to.include('--link-dest=/mnt/backup/aiida-1x-legacy/2026-11-21T030000Z-full/repository');
      expect(argv.indexOf('--link-dest=/mnt/backup/aiida-1x-legacy/2026-11-21T030000Z-full/repository')).to.be.below(argv.indexOf('--'));
      const deleted = step(plan, 'prune').commands;
      expect(deleted.length).to.be.greaterThan(0);
      expect(deleted).to.not.include('delete /mnt/backup/aiida-1x-legacy/2026-11-21T030000Z-full');
      expect(40 + 1 - deleted.length).to.be.within(7, 11);
    });

    it('the incremental sample copies only changes since the latest snapshot until fullEvery is reached', async () => {
      const dest = '/mnt/backup/aiida-2x-prod';
      const recent = await planOf(SAMPLES[1]!, { snapshots: nightlies(dest, 'aiida-2x-prod', 'incremental', 3, (d) => (d === 3 ? 'full' : 'incr')) });
      expect(recent.snapshot).to.deep.include({ id: '2026-11-22T030000Z-incr', kind: 'incr', parent: '2026-11-21T030000Z-incr' });
      expect(step(recent, 'repository').options).to.deep.include({ full: false, parent: '2026-11-21T030000Z-incr', artefact: 'repository-delta.tar.zst.age' }); // the sample is encrypted
      const old = await planOf(SAMPLES[1]!, { snapshots: nightlies(dest, 'aiida-2x-prod', 'incremental', 31, (d) => (d === 31 ? 'full' : 'incr')) });
      expect(old.snapshot.kind).to.equal('full');
      expect(step(old, 'repository').options).to.deep.include({ full: true });
    });
  });

  describe('without exported snapshots (fallback: dump first, then copy)', () => {
    for (const sample of SAMPLES) {
      it(`${sample.name}: the repository step needs db-dump and a note says why`, async () => {
        const plan = await planOf(sample, { exportedSnapshots: false });
        expect(plan.steps.map((s) => s.id)).to.not.include('db-snapshot');
        expect(step(plan, 'repository').needs).to.deep.equal(['db-dump']);
        expect(step(plan, 'db-dump').commands.join('\n')).to.not.include('--snapshot=');
        expect(plan.notes.join('\n')).to.match(/exported snapshots.*waits for the dump/);
        const text = formatPlan(plan, 'text');
        expect(text).to.match(/^ {2}note: .*exported snapshots/m);
        expect(text).to.match(/^ {2}repository \[[^\]]+\] needs db-dump$/m);
        for (const format of Object.keys(EXTENSIONS) as PlanFormat[]) expect(formatPlan(plan, format)).to.not.include(SECRET);
      });
    }
  });

  it('plan JSON never contains the fixture password, in any sample or mode', async () => {
    for (const sample of SAMPLES) {
      for (const exportedSnapshots of [true, false]) {
        const plan = await planOf(sample, { exportedSnapshots });
        expect(JSON.stringify(plan), sample.name).to.not.include(SECRET);
      }
    }
  });
});
