/**
 * Restore from a remote destination (ssh, rclone) streams the large artefacts (issue #15): only
 * the small files of the chain are copied to the staging folder, the archive and the dump are
 * read from the remote, and each is hashed as it passes, so an artefact whose bytes changed
 * after the backup is refused before anything is written.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline as pipeStreams } from 'node:stream/promises';
import { dropDatabase } from '../src/demo/cluster.js';
import { isBackplanError } from '../src/errors.js';
import { pipelineFrom } from '../src/restore/source.js';
import type { StreamedArtefact } from '../src/restore/source.js';
import type { SnapshotRecord } from '../src/record/snapshot-record.js';
import { databaseText, fileHashes } from './support/compare.js';
import { exists } from './support/destination.js';
import { DESTINATION_KINDS, useKind } from './support/destination-kinds.js';
import { writeManifest } from './support/manifests.js';
import { cli, useProfile } from './support/profile.js';
import { databaseExists } from './support/pg.js';

const LARGE = /^(repository(-delta)?\.tar|database\.(dump|sql))|@\d+\.zst/;

for (const kind of DESTINATION_KINDS.filter((k) => k.stages)) describe(`streamed restore: ${kind.name}`, function () {
  this.timeout(180_000);
  const p = useProfile('stream', { nodes: 60, fresh: true });
  useKind(kind);

  const env = () => kind.env(p.dir);
  const backplan = (args: string[]) => cli(args, { env: env() });

  /** Every name that appears under the staging folder while `during` runs, polled. */
  async function namesStagedDuring<T>(during: () => Promise<T>): Promise<{ result: T; names: Set<string> }> {
    const names = new Set<string>();
    let running = true;
    const poll = (async () => {
      while (running) {
        const found = await readdir(join(p.dir, 'staging'), { recursive: true }).catch(() => [] as string[]);
        for (const path of found) names.add(basename(path));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      return { result: await during(), names };
    } finally {
      running = false;
      await poll;
    }
  }

  const shapes = [
    // --jobs 2: the dump is streamed into the decompressed copy parallel pg_restore reads.
    { what: 'zstd archive, custom dump, --jobs 2', yaml: 'repository: { strategy: tar }', jobs: '2' },
    // Nothing to unpack: tar and the copy for parallel pg_restore read the bytes as they come.
    { what: 'plain archive, uncompressed custom dump, --jobs 2', yaml: 'repository: { strategy: tar, tar: { compression: none } }\ndatabase: { compression: none }', jobs: '2' },
    { what: 'plain SQL dump into psql', yaml: 'repository: { strategy: tar }\ndatabase: { format: plain, compression: gzip }', jobs: '1' },
  ];
  for (const shape of shapes) it(`copies only the small files to staging: the archive and the dump stream from there, and the restore is exact (${shape.what})`, async () => {
    const destDir = join(p.dir, 'backups');
    const file = await writeManifest(p, 'backup.yaml', shape.yaml, { destination: kind.spec(destDir) });
    const ran = await backplan(['run', file]);
    expect(ran.code, ran.stderr).to.equal(0);
    const name = `${p.db.name}_streamed`;
    try {
      const { result, names } = await namesStagedDuring(() => backplan(['restore', file, 'latest', '--to', join(p.dir, 'restored'), '--database', name, '--jobs', shape.jobs]));
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.match(/but for 2 large artefacts, streamed from there/);
      expect([...names], 'the copy was watched').to.include('snapshot.json');
      expect([...names].filter((n) => LARGE.test(n)), 'no large artefact staged').to.deep.equal([]);
      expect(await fileHashes(join(p.dir, 'restored', 'repository'))).to.deep.equal(await fileHashes(p.profile.repositoryPath));
      expect(await databaseText(p.db.server, name)).to.equal(await databaseText(p.db.server, p.db.name));
    } finally {
      await dropDatabase(p.db.server, name);
    }
  });

  /** A tar backup there: its manifest, where it lies and its snapshot's id. */
  async function backedUp(): Promise<{ file: string; destDir: string; id: string }> {
    const destDir = join(p.dir, 'backups');
    const file = await writeManifest(p, 'backup.yaml', 'repository: { strategy: tar }', { destination: kind.spec(destDir) });
    const ran = await backplan(['run', file]);
    expect(ran.code, ran.stderr).to.equal(0);
    return { file, destDir, id: (await kind.store.state(destDir)).published[0]! };
  }

  /** A restore of that backup refused with `message`: exit 1, no target folder, no database. */
  async function expectRefusedBeforeWriting(file: string, message: RegExp): Promise<void> {
    const name = `${p.db.name}_tampered`;
    const target = join(p.dir, 'tampered');
    try {
      const refused = await backplan(['restore', file, 'latest', '--to', target, '--database', name]);
      expect(refused.code, refused.stderr).to.equal(1);
      expect(refused.stderr).to.match(message);
      expect(await exists(target), 'nothing written to the target').to.equal(false);
      expect(await databaseExists(p.db.server, name), 'no database created').to.equal(false);
    } finally {
      await dropDatabase(p.db.server, name);
    }
  }

  it('refuses an archive whose bytes changed after the backup (same content, recompressed) before anything is written', async () => {
    const { file, destDir, id } = await backedUp();
    const record = JSON.parse((await kind.store.read(destDir, `${id}/snapshot.json`))!.toString()) as SnapshotRecord;
    expect(record.artefacts.map((a) => a.path)).to.include('repository.tar.zst');
    const archive = `${id}/repository.tar.zst`;
    const original = (await kind.store.read(destDir, archive))!;
    // A valid archive of the same files: only the checksum can tell it is not the one backed up.
    const repacked = execFileSync('zstd', ['-19', '-c'], { input: execFileSync('zstd', ['-dc'], { input: original }) });
    expect(repacked.equals(original)).to.equal(false);
    await kind.store.write(destDir, archive, repacked);
    await expectRefusedBeforeWriting(file, /repository\.tar\.zst streamed \d+ bytes with sha256 [0-9a-f]{64}, but snapshot\.json records/);
  });

  it('checks the dump where it lies before anything is written: hashed there over ssh, its size on rclone', async () => {
    const { file, destDir, id } = await backedUp();
    const dump = `${id}/database.dump.zst`;
    const bytes = (await kind.store.read(destDir, dump))!;
    // Hashing on object storage would download the dump once more: only a changed size is caught up front there.
    const sized = kind.spec(destDir).startsWith('rclone:');
    if (sized) await kind.store.write(destDir, dump, bytes.subarray(0, bytes.length - 1));
    else {
      bytes[bytes.length >> 1] ^= 0xff;
      await kind.store.write(destDir, dump, bytes);
    }
    await expectRefusedBeforeWriting(file, sized ? /database\.dump\.zst: size \d+ does not match the recorded \d+/ : /database\.dump\.zst: sha256 [0-9a-f]+ does not match/);
  });
});

describe('pipelineFrom: an artefact streamed into stages, hashed on the way', () => {
  const collect = () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) });
    return { sink, text: () => Buffer.concat(chunks).toString() };
  };
  const artefact = (bytes: Buffer, recorded: Buffer, fail?: Error): StreamedArtefact => ({
    name: 'repository.tar.zst',
    location: 'remote:snap/repository.tar.zst',
    sha256: createHash('sha256').update(recorded).digest('hex'),
    bytes: recorded.length,
    stream: async (output) => {
      output.write(bytes.subarray(0, bytes.length >> 1));
      if (fail) {
        output.destroy();
        throw fail;
      }
      output.end(bytes.subarray(bytes.length >> 1));
    },
  });

  it('passes the bytes through and checks them against the record', async () => {
    const data = Buffer.from('the recorded bytes\n');
    const out = collect();
    await pipelineFrom(artefact(data, data), [['cat']], { output: out.sink });
    expect(out.text()).to.equal('the recorded bytes\n');
  });

  it('fails with VERIFY_FAILED once the stages are done when the bytes differ from the record', async () => {
    const out = collect();
    const e = await pipelineFrom(artefact(Buffer.from('other bytes\n'), Buffer.from('the recorded bytes\n')), [['cat']], { output: out.sink }).catch((x: unknown) => x);
    expect(isBackplanError(e) && e.code, String(e)).to.equal('VERIFY_FAILED');
    expect((e as Error).message).to.contain('remote:snap/repository.tar.zst streamed 12 bytes');
  });

  it('hashes the whole artefact even when a stage stops reading early', async () => {
    const data = Buffer.alloc(4 << 20, 7);
    const out = collect();
    await pipelineFrom(artefact(data, data), [['head', '-c', '10']], { output: out.sink });
    expect(out.text()).to.have.length(10);
  });

  it('still reads the whole artefact when the stages are done before its first byte comes', async function () {
    // Before, the stage's stdin closing after the stage itself paused the stream for good: a hang.
    this.timeout(20_000);
    const data = Buffer.alloc(1 << 20, 3);
    const late: StreamedArtefact = {
      ...artefact(data, data),
      stream: async (output) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await pipeStreams(Readable.from([data.subarray(0, 1 << 19), data.subarray(1 << 19)]), output);
      },
    };
    await pipelineFrom(late, [['true']], { output: collect().sink });
  });

  it('interrupted, rejects with INTERRUPTED (exit 130), however the stream broke off', async () => {
    const stop = new AbortController();
    const slow: StreamedArtefact = {
      ...artefact(Buffer.from('x'), Buffer.from('x')),
      stream: async (output, signal) => {
        output.write('some bytes');
        await new Promise((_resolve, reject) => signal!.addEventListener('abort', () => reject(new Error('the GET was aborted'))));
      },
    };
    setTimeout(() => stop.abort(), 200);
    const e = await pipelineFrom(slow, [['cat']], { output: collect().sink, signal: stop.signal }).catch((x: unknown) => x);
    expect(isBackplanError(e) && e.code, String(e)).to.equal('INTERRUPTED');
  });

  it('reports a failed stream, not the stage it cut short, and leaves nothing running', async () => {
    const data = Buffer.alloc(1 << 20, 1);
    const e = await pipelineFrom(artefact(data, data, new Error('connection reset')), [['cat']], { output: collect().sink }).catch((x: unknown) => x);
    expect((e as Error).message).to.equal('connection reset');
    expect(liveChildren()).not.to.include('cat');
  });
});

/** The names of this process's children still running (zombies left out). */
function liveChildren(): string[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((pid) => {
    try {
      const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      return m && m[2] !== 'Z' && Number(m[3]) === process.pid ? [m[1]!] : [];
    } catch {
      return [];
    }
  });
}
