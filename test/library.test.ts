/** The library entry (package.json `main`/`types`): the same pipeline the CLI runs. */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as backplan from '../src/index.js';
import { repoRoot } from './support/profile.js';

describe('library entry', () => {
  it('is what package.json names as main and types', async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { main: string; types: string };
    expect(pkg.main).to.equal('dist/src/index.js');
    expect(pkg.types).to.equal('dist/src/index.d.ts');
    const main = (await import(join(repoRoot, pkg.main))) as Record<string, unknown>;
    expect(Object.keys(main)).to.include.members(['planFile', 'runFile', 'openDestination', 'BackplanError']);
  });

  it('plans a sample manifest offline, as `backplan plan --offline` does', async () => {
    const { plan } = await backplan.planFile(join(repoRoot, 'manifests', 'dss-datadir.yaml'), { offline: true, now: new Date('2026-11-22T03:00:00Z') });
    expect(plan.snapshot.id).to.equal('2026-11-22T030000Z-full');
    expect(plan.steps.map((s) => s.id)).to.include.members(['lock', 'db-dump', 'repository', 'finalize', 'unlock']);
  });

  it('reports every manifest mistake as BackplanErrors with positions', async () => {
    const file = join(repoRoot, 'test', 'fixtures', 'invalid', 'bad-duration-unit.yaml');
    const error = await backplan.readValidManifest(file).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(backplan.BackplanErrors);
    expect((error as InstanceType<typeof backplan.BackplanErrors>).errors[0]!.pos?.line).to.be.a('number');
  });
});
