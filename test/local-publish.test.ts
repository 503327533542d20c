/**
 * How a local destination makes a snapshot durable before publishing it, seen by strace: each
 * artefact file and the folders holding them fsynced before the rename, or syncfs(2) of the
 * filesystem when a folder artefact holds files that rsync or pg_dump wrote without fsync.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasStrace } from './support/tools.js';

const ID = '2026-01-02T030405Z-full';

/** The syscalls of publishing `artefacts` (written unsynced first), one line each, in order. */
async function tracePublish(dir: string, artefacts: { path: string; covers?: boolean }[]): Promise<string[]> {
  const registry = new URL('../src/destination/registry.js', import.meta.url).href;
  const records = artefacts.map((a) => ({ path: a.path, bytes: 1, sha256: '0'.repeat(64), ...(a.covers ? { covers: { folder: a.path, files: 1, bytes: 1 } } : {}) }));
  const script = `import { mkdirSync, writeFileSync } from 'node:fs';
    import { dirname, join } from 'node:path';
    import { openDestination } from ${JSON.stringify(registry)};
    const dest = openDestination(${JSON.stringify(dir)}, process.env);
    await dest.prepare(${JSON.stringify(ID)}, () => undefined);
    const { partialDir } = dest.snapshotPaths(${JSON.stringify(ID)});
    for (const a of ${JSON.stringify(records)}) {
      mkdirSync(dirname(join(partialDir, a.path)), { recursive: true });
      writeFileSync(join(partialDir, a.path), 'x');
    }
    await dest.publish(${JSON.stringify(ID)}, { id: ${JSON.stringify(ID)}, artefacts: ${JSON.stringify(records)} });`;
  const log = join(dir, '..', 'strace.log');
  execFileSync('strace', ['-f', '-y', '-o', log, '-e', 'trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,execve', process.execPath, '--input-type=module', '-e', script]);
  return (await readFile(log, 'utf8')).split('\n');
}

describe('local destination: what publish makes durable before the rename', () => {
  let scratch: string;
  let dest: string;
  beforeEach(async function () {
    if (!hasStrace()) this.skip();
    scratch = await mkdtemp(join(tmpdir(), 'backplan-publish-'));
    dest = join(scratch, 'dest');
  });
  afterEach(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** The commit: .partial-<id> renamed to <id>. */
  const renameAt = (trace: string[]) => trace.findIndex((l) => /rename/.test(l) && l.includes(`"${join(dest, `.partial-${ID}`)}"`) && l.includes(`"${join(dest, ID)}"`));
  // Called from node's thread pool: the call and its result may be two lines (`<unfinished ...>`).
  const fsyncOf = (trace: string[], path: string) => trace.findIndex((l) => /^\d+ +f(data)?sync\(\d+</.test(l) && l.includes(`<${path}>`) && !/ = -1 /.test(l));

  it('fsyncs each artefact and each folder holding one, and no syncfs, when every artefact is a file', async () => {
    const trace = await tracePublish(dest, [{ path: 'database.dump.zst' }, { path: 'config/config.json' }, { path: 'container/packs/0@0.zst' }]);
    const partial = join(dest, `.partial-${ID}`);
    const renamed = renameAt(trace);
    expect(renamed, `the rename in:\n${trace.join('\n')}`).to.be.greaterThan(0);
    for (const path of ['database.dump.zst', 'config/config.json', 'container/packs/0@0.zst', '', 'config', 'container', 'container/packs']) {
      const at = fsyncOf(trace, path ? join(partial, path) : partial);
      expect(at, `an fsync of ${path || 'the snapshot folder'} in:\n${trace.join('\n')}`).to.be.within(0, renamed);
    }
    expect(trace.filter((l) => /syncfs\(|"--file-system"/.test(l))).to.deep.equal([]);
  });

  it('syncs the filesystem first when a folder artefact holds files their tools wrote without fsync', async () => {
    const trace = await tracePublish(dest, [{ path: 'database.dump.zst' }, { path: 'repository.SHA256SUMS', covers: true }]);
    const synced = trace.findIndex((l) => /^\d+ +syncfs\(\d+</.test(l) && / = 0$/.test(l));
    expect(synced, `a syncfs in:\n${trace.join('\n')}`).to.be.at.least(0);
    expect(renameAt(trace)).to.be.greaterThan(synced);
  });
});
