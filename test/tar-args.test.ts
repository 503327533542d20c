import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline, run } from '../src/execute/subprocess.js';
import { TAR_CREATE, TAR_EXTRACT } from '../src/util/tar-args.js';

describe('tar arguments', function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'backplan-tar-args-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

  /**
   * A writer that sends the first 10 KiB (the file and the end-of-archive blocks), waits, then
   * sends the padding: a reader that stops at the end-of-archive has exited by then, and the
   * writer dies of SIGPIPE, as zstd did in front of tar under load.
   */
  const slowTail = (archive: string) => ['sh', '-c', 'head -c 10240 "$1"; sleep 0.5; tail -c +10241 "$1"', 'sh', archive];

  it('extraction reads an archive TAR_CREATE wrote to its last byte, so the stage feeding tar is never cut off', async function () {
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'src', 'a'), 'hello\n');
    const archive = join(dir, 'a.tar');
    await pipeline([[...TAR_CREATE, `--directory=${join(dir, 'src')}`, '.']], { output: archive });
    // One 64 KiB record: the padding after the end-of-archive is most of it.
    expect(statSync(archive).size).to.equal(64 * 1024);
    await pipeline([slowTail(archive), [...TAR_EXTRACT, `--directory=${join(dir, 'out')}`, '--file=-']], { output: discard() });
    expect(readFileSync(join(dir, 'out', 'a'), 'utf8')).to.equal('hello\n');
  });

  it('extraction still reads archives written in tar\'s default 10 KiB records, from a pipe and from a file', async function () {
    mkdirSync(join(dir, 'src', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'src', 'sub', 'b'), Buffer.alloc(30_000, 7));
    const archive = join(dir, 'old.tar');
    await run(['tar', '--create', `--file=${archive}`, `--directory=${join(dir, 'src')}`, '.']);
    expect(statSync(archive).size % (10 * 1024)).to.equal(0);
    for (const how of ['pipe', 'file']) {
      const out = join(dir, `out-${how}`);
      mkdirSync(out);
      if (how === 'pipe') await pipeline([['cat', archive], [...TAR_EXTRACT, `--directory=${out}`, '--file=-']], { output: discard() });
      else await run([...TAR_EXTRACT, `--directory=${out}`, `--file=${archive}`], { stdout: 'ignore' });
      expect(readFileSync(join(out, 'sub', 'b')).equals(Buffer.alloc(30_000, 7)), how).to.equal(true);
    }
  });
});
