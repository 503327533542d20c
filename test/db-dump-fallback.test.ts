/**
 * Fallback mode (a server that cannot export snapshots, so no db-snapshot step): db-dump reads
 * the server's version, row counts and the roles the dump names itself, before dumping them.
 */
import { expect } from 'chai';
import { openDestination } from '../src/destination/registry.js';
import { eventSink } from '../src/execute/events.js';
import { readManifest } from '../src/validate/read-manifest.js';
import type { ManifestSource } from '../src/validate/read-manifest.js';
import type { Manifest } from '../src/manifest.js';
import { makePlan } from '../src/plan/make-plan.js';
import { resolveProfile } from '../src/resolve/resolve.js';
import { runDbDump } from '../src/steps/db-dump.js';
import type { RunContext } from '../src/steps/run-context.js';
import { useProfile } from './support/profile.js';

describe('db-dump without an exported snapshot (fallback mode)', function () {
  this.timeout(120_000);
  const p = useProfile('fallback', { nodes: 20 });

  it('describes the database itself, then dumps it and the roles it names', async () => {
    const source = await readManifest(p.manifest, process.env);
    expect(source.errors.map((e) => e.message)).to.deep.equal([]);
    const valid = source as ManifestSource & { manifest: Manifest };
    const resolution = await resolveProfile(valid.manifest, { positionOf: source.positionOf, env: process.env });
    const destination = openDestination(valid.manifest.destination);
    const facts = { now: new Date(), pgDumpMajor: 15, exportedSnapshots: false, snapshots: [], notes: [] };
    const plan = makePlan({ source: valid, resolution, destination, facts });
    expect(plan.steps.map((s) => s.id)).to.not.include('db-snapshot');
    await destination.prepare(plan.snapshot.id, () => undefined);
    const ctx: RunContext = {
      plan,
      destination,
      secrets: resolution.secrets,
      emit: eventSink(() => undefined),
      state: { startedAt: new Date(), artefacts: [], steps: new Map() },
      onSettled: () => undefined,
    };
    await runDbDump(plan.steps.find((s) => s.id === 'db-dump')! as never, ctx, new AbortController().signal);
    expect(ctx.state.artefacts.map((a) => a.path)).to.include.members(['database.roles.sql']);
    expect(ctx.state.artefacts.some((a) => a.path.startsWith('database.dump'))).to.equal(true);
    const db = ctx.state.database!;
    expect(db.serverVersion).to.match(/^\d+/);
    expect(db.pgDumpVersion).to.match(/^\d+/);
    expect(db.exportedSnapshot).to.equal(false);
    expect(Object.keys(db.rowCounts).length).to.be.greaterThan(0);
  });
});
