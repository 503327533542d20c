import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, fstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { BackplanError } from '../src/errors.js';
import { hashingFileSink } from '../src/execute/hashing-sink.js';
import { renderCommand } from '../src/execute/render.js';
import { ownGroupSpawn } from '../src/execute/own-group.js';
import { CommandError } from '../src/execute/result.js';
import { pipeline, run } from '../src/execute/subprocess.js';
import { makeTapFifo, openTapFifo, prepareTapFifo, sweepStaleTapFolders } from '../src/execute/tap-fifo.js';
import { hasStrace } from './support/tools.js';
import { waitUntil } from './support/wait.js';

/** Awaits a promise that must reject, and returns its CommandError. */
async function rejection(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (e) {
    expect(e).to.be.instanceOf(CommandError);
    return e as CommandError;
  }
  throw new Error('expected a rejection');
}

/** Alive and not a zombie waiting for a reaper (a container's PID 1 may never reap). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    return statField(pid, 0) !== 'Z';
  } catch {
    return false; // gone between the two checks
  }
}

/** Field n of /proc/PID/stat after the command name (0 = state, 1 = ppid). */
function statField(pid: number, n: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n]!;
}

/**
 * A killed grandchild closes its stdio (which is when a run settles) a moment before it
 * finishes exiting; give it that moment.
 */
async function diesSoon(pid: number): Promise<boolean> {
  for (let waited = 0; waited < 1000; waited += 20) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return false;
}

function childPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return Number(statField(pid, 1)) === process.pid && isAlive(pid);
      } catch {
        return false;
      }
    });
}

function sha256sum(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Discards what it gets, asynchronously, so backpressure has to work for memory to stay flat. */
function slowDiscard(): Writable & { bytes: number } {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sink.bytes += chunk.length;
      setImmediate(callback);
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}

/** The largest RSS growth seen while `work` runs. */
async function rssGrowth(work: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss()) - before;
}

const MiB = 1024 * 1024;
const PRINT_ARGV = ['node', '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '--'];

describe('subprocess', function () {
  let tmp: string;
  /** ~24 MiB of incompressible files: large enough that tar is still writing when things fail. */
  let bigdir: string;

  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'backplan-subprocess-'));
    bigdir = join(tmp, 'big dir');
    mkdirSync(bigdir);
    for (let i = 0; i < 24; i++) writeFileSync(join(bigdir, `f${i}.bin`), randomBytes(MiB));
  });

  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('run', function () {
    it('resolves with the exit code, captured stdout, stderr tail and duration', async function () {
      const r = await run(['sh', '-c', 'echo out; echo err >&2; sleep 0.2']);
      expect(r).to.include({ exitCode: 0, signal: null, stdout: 'out\n', stderrTail: 'err', stdoutBytes: 4 });
      expect(r.durationMs).to.be.within(190, 5000);
    });

    it('rejects a non-zero exit with COMMAND_FAILED, the command, the stderr tail and the result', async function () {
      const e = await rejection(run(['sh', '-c', 'echo first >&2; echo oops >&2; exit 3']));
      expect(e.code).to.equal('COMMAND_FAILED');
      expect(e.message).to.equal('sh exited with code 3');
      expect(e.details.command).to.equal(`sh -c 'echo first >&2; echo oops >&2; exit 3'`);
      expect(e.details.stderrTail).to.equal('first\noops');
      expect(e.result).to.include({ exitCode: 3, signal: null });
    });

    it('accepts the exit codes named in okExitCodes', async function () {
      const r = await run(['sh', '-c', 'exit 24'], { okExitCodes: [0, 24] });
      expect(r.exitCode).to.equal(24);
      const e = await rejection(run(['sh', '-c', 'exit 23'], { okExitCodes: [0, 24] }));
      expect(e.message).to.equal('sh exited with code 23');
    });

    it('shows displayArgv, not argv, in errors', async function () {
      const e = await rejection(run(['sh', '-c', 'exit 1', 'secret'], { displayArgv: ['sh', '-c', 'exit 1', '***'] }));
      expect(e.details.command).to.equal(`sh -c 'exit 1' '***'`);
      expect(e.message).not.to.include('secret');
    });

    it('turns a missing tool into COMMAND_FAILED with an install hint', async function () {
      const e = await rejection(run(['backplan-no-such-tool', '--version']));
      expect(e.code).to.equal('COMMAND_FAILED');
      expect(e.details.hint).to.equal('install backplan-no-such-tool');
      expect(e.result.exitCode).to.equal(null);
    });

    it('turns "No space left on device" on stderr into DISK_FULL', async function () {
      const e = await rejection(run(['sh', '-c', 'head -c 1M /dev/zero > /dev/full']));
      expect(e.code).to.equal('DISK_FULL');
      expect(e.details.hint).to.match(/free space/);
    });

    it('passes every argument literally, without a shell', async function () {
      const args = [
        'two words',
        `it's "quoted"`,
        '$(touch pwned)',
        '`touch pwned`',
        '; rm -rf /',
        'a && b | c > d',
        'line one\nline two',
        '-n',
        '--help',
        '',
        '*',
        '~',
        '\\',
        'ünïcødé',
      ];
      const viaNode = await run([...PRINT_ARGV, ...args], { cwd: tmp });
      expect(JSON.parse(viaNode.stdout!)).to.deep.equal(args);
      const viaPrintf = await run(['printf', '%s\\0', ...args], { cwd: tmp });
      expect(viaPrintf.stdout!.split('\0').slice(0, -1)).to.deep.equal(args);
      expect(readdirSync(tmp)).not.to.include('pwned');
    });

    it('merges env over process.env', async function () {
      const r = await run(['sh', '-c', 'echo "$BACKPLAN_A/$HOME"'], { env: { BACKPLAN_A: 'x y' } });
      expect(r.stdout).to.equal(`x y/${process.env.HOME}\n`);
    });

    it('feeds a stream to stdin', async function () {
      const r = await run(['sha256sum'], { stdin: Readable.from([Buffer.from('abc')]) });
      expect(r.stdout).to.match(/^ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad /);
    });

    it('caps captured stdout but counts all of it', async function () {
      const r = await run(['head', '-c', '5M', '/dev/zero']);
      expect(r.stdout).to.have.length(MiB);
      expect(r.stdoutBytes).to.equal(5 * MiB);
    });

    it('streams stdout to a Writable and ends it', async function () {
      const sink = hashingFileSink(join(tmp, 'run-out'));
      const r = await run(['printf', 'hello'], { stdout: sink.stream });
      expect(r.stdoutBytes).to.equal(5);
      expect(await sink.done()).to.deep.equal({ sha256: sha256sum(join(tmp, 'run-out')), bytes: 5 });
    });

    it('keeps a bounded stderr tail of a 10 MB stderr, and reports every line', async function () {
      const script = `const l = 'x'.repeat(99) + '\\n'; for (let i = 0; i < 100000; i++) process.stderr.write(l);
        process.stderr.write('the end\\n'); process.exitCode = 1`;
      let lines = 0;
      const e = await rejection(run(['node', '-e', script], { onStderrLine: () => lines++ }));
      const tail = e.details.stderrTail!;
      expect(Buffer.byteLength(tail)).to.be.at.most(4096);
      expect(tail.split('\n')).to.have.length.at.most(20);
      expect(tail.endsWith('\nthe end')).to.equal(true);
      expect(lines).to.equal(100001);
    });

    it('clips an endless stderr line', async function () {
      const r = await run(['sh', '-c', 'head -c 3M /dev/zero | tr "\\0" x >&2']);
      expect(r.stderrTail.length).to.be.at.most(1025);
    });

    it('kills the whole process group on timeout and names the timeout', async function () {
      let grandchild = 0;
      const started = Date.now();
      const e = await rejection(
        run(['sh', '-c', 'sleep 30 & echo $! >&2; wait'], {
          timeoutMs: 300,
          onStderrLine: (line) => (grandchild = Number(line)),
        }),
      );
      expect(Date.now() - started).to.be.below(2000);
      expect(e.code).to.equal('COMMAND_FAILED');
      expect(e.message).to.equal('sh timed out after 300ms');
      expect(e.result.signal).to.equal('SIGTERM');
      expect(grandchild).to.be.above(0);
      expect(await diesSoon(grandchild)).to.equal(true);
    });

    it('escalates to SIGKILL when SIGTERM is ignored', async function () {
      const e = await rejection(run(['sh', '-c', 'trap "" TERM; sleep 30 & wait; sleep 30'], { timeoutMs: 200 }));
      expect(e.result.signal).to.equal('SIGKILL');
      expect(e.result.durationMs).to.be.within(3000, 6000);
    });

    it('rejects INTERRUPTED when aborted, and does not start when already aborted', async function () {
      const controller = new AbortController();
      // Aborted once the child says it runs: the abort must stop a running process.
      const e = await rejection(run(['sh', '-c', 'echo running >&2; exec sleep 30'], { signal: controller.signal, onStderrLine: () => controller.abort() }));
      expect(e.code).to.equal('INTERRUPTED');
      expect(e.result.signal, 'the running sleep was killed').to.equal('SIGTERM');

      let error: unknown;
      await run(['touch', join(tmp, 'never')], { signal: controller.signal }).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(BackplanError).with.property('code', 'INTERRUPTED');
      expect(readdirSync(tmp)).not.to.include('never');
    });

    it('streams 500 MB through JS with bounded memory', async function () {
      const sink = slowDiscard();
      let result: Awaited<ReturnType<typeof run>> | undefined;
      const growth = await rssGrowth(async () => {
        result = await run(['head', '-c', '500M', '/dev/zero'], { stdout: sink });
      });
      expect(result!.stdoutBytes).to.equal(500 * MiB);
      expect(sink.bytes).to.equal(500 * MiB);
      expect(growth).to.be.below(100 * MiB);
    });
  });

  describe('pipeline', function () {
    it('tar | zstd into a hashing sink: the checksum matches sha256sum and the archive lists', async function () {
      const archive = join(tmp, 'repo.tar.zst');
      const sink = hashingFileSink(archive);
      const results = await pipeline(
        [
          ['tar', 'cf', '-', '-C', tmp, 'big dir'],
          ['zstd', '-1', '-c'],
        ],
        { output: sink.stream },
      );
      const { sha256, bytes } = await sink.done();
      expect(sha256).to.equal(sha256sum(archive));
      expect(bytes).to.equal(statSync(archive).size);
      expect(results[1]!.stdoutBytes).to.equal(bytes);
      expect(statSync(archive).mode & 0o777).to.equal(0o600);
      const listing = await run(['sh', '-c', 'zstd -dc "$1" | tar tf -', 'sh', archive]);
      expect(listing.stdout).to.include('big dir/f0.bin').and.include('big dir/f23.bin');
    });

    it('writes to a file path at the OS level, mode 0600, counting bytes', async function () {
      const out = join(tmp, 'direct.zst');
      const results = await pipeline([['printf', 'payload'], ['zstd', '-c']], { output: out });
      expect(results[1]!.stdoutBytes).to.equal(statSync(out).size);
      expect(statSync(out).mode & 0o777).to.equal(0o600);
      expect(execFileSync('zstd', ['-dc', out], { encoding: 'utf8' })).to.equal('payload');
    });

    it('hashes a file path output as it grows: the digest matches sha256sum of the finished file', async function () {
      const out = join(tmp, 'followed.zst');
      // Written in bursts with pauses, so that the hasher catches up with the writer and waits.
      const writer = ['sh', '-c', 'for i in 1 2 3 4 5; do head -c 3000000 /dev/urandom; sleep 0.05; done'];
      const results = await pipeline([writer, ['zstd', '-1', '-c']], { output: out, hashOutput: true });
      expect(results[1]!.stdoutSha256).to.equal(sha256sum(out));
      expect(results[1]!.stdoutBytes).to.equal(statSync(out).size).and.to.be.above(14 * MiB);
    });

    it('hashes an empty file path output, and refuses hashOutput without a path', async function () {
      const out = join(tmp, 'empty-output');
      const results = await pipeline([['true']], { output: out, hashOutput: true });
      expect(results[0]!.stdoutSha256).to.equal(createHash('sha256').digest('hex'));
      const refused: unknown = await pipeline([['true']], { output: new Writable(), hashOutput: true }).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(TypeError);
    });

    it('stops hashing the file path output of a failed pipeline, and reports the failure', async function () {
      const out = join(tmp, 'failed-output');
      const open = () => readdirSync('/proc/self/fd').length;
      const before = open();
      const e = await rejection(pipeline([['sh', '-c', 'head -c 1000000 /dev/zero; exit 3']], { output: out, hashOutput: true }));
      expect(e.result.exitCode).to.equal(3);
      await waitUntil('the hasher closed the file', () => open() === before, 5000);
    });

    it('fsyncs a file path output before it resolves (seen by strace)', async function () {
      if (!hasStrace()) this.skip();
      const out = join(tmp, 'synced.zst');
      const resolved = join(tmp, 'resolved-marker');
      const log = join(tmp, 'strace.log');
      // The child names `resolved` in a syscall once the pipeline has resolved: the trace orders the two.
      const script = `import { accessSync } from 'node:fs';
        import { pipeline } from ${JSON.stringify(new URL('../src/execute/subprocess.js', import.meta.url).href)};
        await pipeline([['printf', 'payload'], ['zstd', '-c']], { output: ${JSON.stringify(out)} });
        try { accessSync(${JSON.stringify(resolved)}); } catch {}`;
      execFileSync('strace', ['-f', '-y', '-o', log, '-e', 'trace=fsync,fdatasync,access,faccessat,faccessat2', process.execPath, '--input-type=module', '-e', script]);
      const trace = readFileSync(log, 'utf8').split('\n');
      const synced = trace.findIndex((l) => /^\d+ +f(data)?sync\(\d+</.test(l) && l.includes(`<${out}>)`) && / = 0$/.test(l));
      const done = trace.findIndex((l) => l.includes(resolved));
      expect(synced, `an fsync of ${out} in:\n${trace.join('\n')}`).to.be.at.least(0);
      expect(done, 'the marker after the pipeline resolved').to.be.greaterThan(synced);
    });

    it('loses no bytes between stages', async function () {
      for (let i = 0; i < 30; i++) {
        const sink = hashingFileSink(join(tmp, 'seq'));
        await pipeline([['seq', '1', '20000'], ['cat'], ['cat']], { output: sink.stream });
        expect((await sink.done()).bytes).to.equal(108894);
      }
    });

    it('applies stageEnv to its stage only', async function () {
      const sink = hashingFileSink(join(tmp, 'env'));
      await pipeline(
        [
          ['sh', '-c', 'echo "a=$BACKPLAN_S"; cat'],
          ['sh', '-c', 'cat; echo "b=$BACKPLAN_S"'],
        ],
        { output: sink.stream, stageEnv: [{ BACKPLAN_S: 'one' }] },
      );
      await sink.done();
      expect(readFileSync(join(tmp, 'env'), 'utf8')).to.equal('a=one\nb=\n');
    });

    it('accepts per-stage okExitCodes', async function () {
      const stages = [['sh', '-c', 'echo x; exit 1'], ['cat']];
      const results = await pipeline(stages, { output: slowDiscard(), okExitCodes: [[0, 1]] });
      expect(results.map((r) => r.exitCode)).to.deep.equal([1, 0]);
      const e = await rejection(pipeline([['cat'], ['sh', '-c', 'exit 1']], { output: slowDiscard(), okExitCodes: [[0, 1]] }));
      expect(e.stage).to.equal(1);
    });

    it('reports a failing first stage, not the stage that then saw EOF', async function () {
      const sink = hashingFileSink(join(tmp, 'fail-first.zst'));
      const e = await rejection(
        pipeline([['tar', 'cf', '-', join(tmp, 'missing')], ['zstd', '-c']], { output: sink.stream }),
      );
      expect(e.code).to.equal('COMMAND_FAILED');
      expect(e.stage).to.equal(0);
      expect(e.message).to.equal('tar (stage 1 of 2) exited with code 2');
      expect(e.details.stderrTail).to.include('missing');
      expect(e.details.command).to.match(/^tar cf - /);
      let doneError: unknown;
      await sink.done().catch((err: unknown) => (doneError = err));
      expect(doneError, 'a failed pipeline leaves the sink incomplete').to.be.instanceOf(Error);
    });

    it('reports a failing last stage, not the stage that then lost its reader', async function () {
      const e = await rejection(
        pipeline([['tar', 'cf', '-', '-C', tmp, 'big dir'], ['zstd', '-dc']], { output: slowDiscard() }),
      );
      expect(e.stage).to.equal(1);
      expect(e.message).to.match(/^zstd \(stage 2 of 2\) exited with code 1$/);
      expect(e.results[0]!.exitCode).not.to.equal(0);
    });

    it('reports a failing middle stage', async function () {
      const e = await rejection(
        pipeline([['head', '-c', '100M', '/dev/zero'], ['sh', '-c', 'head -c 10 >/dev/null; exit 4'], ['cat']], {
          output: slowDiscard(),
        }),
      );
      expect(e.stage).to.equal(1);
      expect(e.message).to.equal('sh (stage 2 of 3) exited with code 4');
      expect(e.results[0]!.exitCode).not.to.equal(0);
    });

    it('names a missing tool in a later stage', async function () {
      const e = await rejection(
        pipeline([['tar', 'cf', '-', '-C', tmp, 'big dir'], ['backplan-no-such-zstd']], { output: slowDiscard() }),
      );
      expect(e.stage).to.equal(1);
      expect(e.details.hint).to.equal('install backplan-no-such-zstd');
    });

    it('turns ENOSPC on the output into DISK_FULL', async function () {
      const out = hashingFileSink('/dev/full');
      const e = await rejection(pipeline([['head', '-c', '10M', '/dev/zero'], ['cat']], { output: out.stream }));
      expect(e.code).to.equal('DISK_FULL');
    });

    it('on abort rejects INTERRUPTED quickly and leaves no child alive', async function () {
      const controller = new AbortController();
      // --single-thread: a multi-threaded zstd -19 reads whole 32 MB jobs, and tar would be done.
      const promise = pipeline([['tar', 'cf', '-', '-C', tmp, 'big dir'], ['zstd', '-19', '--single-thread', '-c']], {
        output: slowDiscard(),
        signal: controller.signal,
      });
      // Mid-stream: both stages run their programs, and tar has written into the pipe.
      let children: number[] = [];
      const running = (name: string) => children.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === name);
      await waitUntil('tar writing into zstd', () => {
        children = childPids();
        const tar = running('tar');
        return tar !== undefined && running('zstd') !== undefined && /^wchar: [1-9]/m.test(readFileSync(`/proc/${tar}/io`, 'utf8'));
      }, 10_000);
      expect(children).to.have.length(2);
      const abortedAt = Date.now();
      controller.abort();
      const e = await rejection(promise);
      expect(Date.now() - abortedAt).to.be.below(1000);
      expect(e.code).to.equal('INTERRUPTED');
      expect(e.message).to.equal('tar | zstd was interrupted');
      expect(e.results.map((r) => r.signal !== null), 'neither stage had ended by itself').to.deep.equal([true, true]);
      for (const pid of children) expect(isAlive(pid), `pid ${pid}`).to.equal(false);
      expect(childPids()).to.deep.equal([]);
    });

    it('compresses 500 MB with bounded memory', async function () {
      const out = join(tmp, 'zeros.zst');
      const sink = hashingFileSink(out);
      const growth = await rssGrowth(() =>
        pipeline([['head', '-c', '500M', '/dev/zero'], ['zstd', '-1', '-c']], { output: sink.stream }),
      );
      expect((await sink.done()).sha256).to.equal(sha256sum(out));
      expect(growth).to.be.below(100 * MiB);
    });
  });

  // Through a FIFO read into one buffer (tap-fifo.ts), and through the stage's stdout socket
  // where no FIFO can be made: here, a failing mkfifo first on PATH.
  for (const via of ['FIFO', 'socket'] as const) describe(`pipeline with a tap, joined through a ${via}`, function () {
    let savedPath: string | undefined;
    before(function () {
      if (via === 'FIFO') return;
      const bin = join(tmp, 'no-mkfifo');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'mkfifo'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
      savedPath = process.env.PATH;
      process.env.PATH = `${bin}:${savedPath}`;
    });
    after(function () {
      if (savedPath !== undefined) process.env.PATH = savedPath;
    });

    if (via === 'FIFO') {
      it('removes the FIFO folders a killed process left, and only those older than a minute', async function () {
        const left = mkdtempSync(join(tmpdir(), 'backplan-tap-'));
        execFileSync('mkfifo', [join(left, 'stream')]);
        const old = new Date(Date.now() - 5 * 60_000);
        utimesSync(left, old, old);
        const young = mkdtempSync(join(tmpdir(), 'backplan-tap-'));
        try {
          await sweepStaleTapFolders();
          expect(existsSync(left), 'the stale folder').to.equal(false);
          expect(existsSync(young), 'a folder that may be in use').to.equal(true);
        } finally {
          rmSync(left, { recursive: true, force: true });
          rmSync(young, { recursive: true, force: true });
        }
      });
    }

    it(via === 'FIFO' ? 'makes the FIFO, open at both ends and gone from the file system' : 'makes no FIFO without mkfifo', async function () {
      const fifo = await openTapFifo();
      expect(fifo !== undefined).to.equal(via === 'FIFO');
      if (fifo === undefined) return;
      expect(fstatSync(fifo.writeFd).isFIFO()).to.equal(true);
      expect(readlinkSync(`/proc/self/fd/${fifo.writeFd}`)).to.match(/\/backplan-tap-[^/]+\/stream \(deleted\)$/);
      // Enlarged, and still so once the perl that enlarged it is gone.
      expect(fifo.bytes).to.equal(MiB);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(pipeSize(fifo.writeFd)).to.equal(MiB);
      fifo.dispose();
    });

    if (via === 'FIFO') {
      it('makes a FIFO of the default size without perl', async function () {
        const fifo = (await makeTapFifo(null))!;
        expect(fifo.bytes).to.equal(64 * 1024);
        expect(pipeSize(fifo.writeFd)).to.equal(64 * 1024);
        fifo.dispose();
      });
    }

    if (via === 'socket') {
      it('hands out a FIFO prepared earlier once, then makes each one as it is asked for', async function () {
        // Prepared while mkfifo worked; taken once mkfifo fails.
        process.env.PATH = savedPath;
        await prepareTapFifo();
        process.env.PATH = `${join(tmp, 'no-mkfifo')}:${savedPath}`;
        const fifo = await openTapFifo();
        expect(fifo, 'the prepared FIFO').not.to.equal(undefined);
        expect(fstatSync(fifo!.writeFd).isFIFO()).to.equal(true);
        fifo!.dispose();
        expect(await openTapFifo(), 'a second one, made now').to.equal(undefined);
      });
    }

    /** The size of the pipe behind `fd`, as fcntl F_GETPIPE_SZ tells a child handed it as stdout. */
    function pipeSize(fd: number): number {
      const said = spawnSync('perl', ['-e', 'print STDERR fcntl(STDOUT, 1032, 0) + 0'], { stdio: ['ignore', fd, 'pipe'] });
      return Number(said.stderr.toString());
    }

    /** A tap that keeps a sha256 and a count of what it saw. */
    function watcher() {
      const hash = createHash('sha256');
      const seen = { bytes: 0, chunks: 0, sha256: () => hash.digest('hex') };
      const onChunk = (chunk: Buffer) => {
        hash.update(chunk);
        seen.bytes += chunk.length;
        seen.chunks++;
      };
      return { seen, onChunk };
    }

    it('sees exactly the bytes one stage passes to the next, and counts them as its stdout', async function () {
      const { seen, onChunk } = watcher();
      const out = join(tmp, 'tapped.tar.zst');
      const sink = hashingFileSink(out);
      const results = await pipeline(
        [
          ['tar', 'cf', '-', '-C', tmp, 'big dir'],
          ['zstd', '-1', '-c'],
        ],
        { output: sink.stream, tap: { after: 0, onChunk } },
      );
      await sink.done();
      const tarred = execFileSync('zstd', ['-dc', out], { maxBuffer: 64 * MiB });
      expect(seen.bytes).to.equal(tarred.length).and.to.be.above(24 * MiB);
      expect(seen.sha256()).to.equal(createHash('sha256').update(tarred).digest('hex'));
      expect(results[0]!.stdoutBytes).to.equal(seen.bytes);
    });

    it('taps the last stage on its way to a Writable output', async function () {
      const { seen, onChunk } = watcher();
      const sink = slowDiscard();
      const results = await pipeline([['head', '-c', '3M', '/dev/zero']], { output: sink, tap: { after: 0, onChunk } });
      expect(seen.bytes).to.equal(3 * MiB);
      expect(sink.bytes).to.equal(3 * MiB);
      expect(results[0]!.stdoutBytes).to.equal(3 * MiB);
    });

    it("reads a last stage whose bytes go nowhere else (output 'ignore'): every byte seen once, counted as its stdout", async function () {
      const { seen, onChunk } = watcher();
      const results = await pipeline([['tar', 'cf', '-', '-C', tmp, 'big dir'], ['cat']], { output: 'ignore', tap: { after: 1, onChunk } });
      const tarred = execFileSync('tar', ['cf', '-', '-C', tmp, 'big dir'], { maxBuffer: 64 * MiB });
      expect(seen.bytes).to.equal(tarred.length).and.to.be.above(24 * MiB);
      expect(seen.sha256()).to.equal(createHash('sha256').update(tarred).digest('hex'));
      expect(results[1]!.stdoutBytes).to.equal(seen.bytes);
      const { seen: alone, onChunk: onAlone } = watcher();
      expect((await pipeline([['head', '-c', '3M', '/dev/zero']], { output: 'ignore', tap: { after: 0, onChunk: onAlone } }))[0]!.stdoutBytes).to.equal(3 * MiB);
      expect(alone.bytes).to.equal(3 * MiB);
    });

    it('loses no bytes between stages', async function () {
      for (let i = 0; i < 30; i++) {
        const { seen, onChunk } = watcher();
        const sink = hashingFileSink(join(tmp, 'seq-tap'));
        await pipeline([['seq', '1', '20000'], ['cat'], ['cat']], { output: sink.stream, tap: { after: 1, onChunk } });
        expect((await sink.done()).bytes).to.equal(108894);
        expect(seen.bytes).to.equal(108894);
      }
    });

    it('blames a failing downstream stage, not the stage that lost its reader', async function () {
      const started = Date.now();
      const e = await rejection(
        pipeline([['head', '-c', '1000M', '/dev/zero'], ['sh', '-c', 'head -c 10 >/dev/null; exit 4']], {
          output: slowDiscard(),
          tap: { after: 0, onChunk: () => undefined },
        }),
      );
      expect(e.stage).to.equal(1);
      expect(e.message).to.equal('sh (stage 2 of 2) exited with code 4');
      expect(e.results[0]!.exitCode, 'head saw its reader gone').not.to.equal(0);
      expect(Date.now() - started, 'head did not run to its end').to.be.below(3000);
    });

    it('lets a stage that stops reading early end the stage before it, as a kernel pipe would', async function () {
      const e = await rejection(
        pipeline([['head', '-c', '1000M', '/dev/zero'], ['head', '-c', '10']], {
          output: slowDiscard(),
          tap: { after: 0, onChunk: () => undefined },
        }),
      );
      expect(e.stage).to.equal(0);
      expect(e.result.signal === 'SIGPIPE' || /Broken pipe|Connection reset by peer/.test(e.result.stderrTail)).to.equal(true);
      expect(e.results[1]!.exitCode).to.equal(0);
    });

    it('reports a failing upstream stage', async function () {
      const e = await rejection(
        pipeline([['sh', '-c', 'head -c 1M /dev/zero; exit 3'], ['cat'], ['cat']], {
          output: slowDiscard(),
          tap: { after: 0, onChunk: () => undefined },
        }),
      );
      expect(e.stage).to.equal(0);
      expect(e.message).to.equal('sh (stage 1 of 3) exited with code 3');
    });

    it('ends the next stage\'s stdin when the tapped stage stops', async function () {
      const sink = hashingFileSink(join(tmp, 'ended'));
      const results = await pipeline([['sh', '-c', 'printf abc; exit 1'], ['cat']], {
        output: sink.stream,
        okExitCodes: [[0, 1]],
        tap: { after: 0, onChunk: () => undefined },
      });
      await sink.done();
      expect(results.map((r) => r.exitCode)).to.deep.equal([1, 0]);
      expect(readFileSync(join(tmp, 'ended'), 'utf8')).to.equal('abc');
    });

    it('fails as an IO failure when the tap throws, and leaves no child alive', async function () {
      let chunks = 0;
      const onChunk = () => {
        if (++chunks === 3) throw new Error('not a tar header at offset 1024');
      };
      for (const [after, output] of [[0, slowDiscard()], [1, slowDiscard()], [1, 'ignore']] as const) {
        chunks = 0;
        const started = Date.now();
        const e = await rejection(pipeline([['head', '-c', '1000M', '/dev/zero'], ['cat']], { output, tap: { after, onChunk } }));
        expect(Date.now() - started).to.be.below(3000);
        expect(e.code).to.equal('COMMAND_FAILED');
        expect(e.message).to.equal('watching the stream of head | cat failed: not a tar header at offset 1024');
        expect(childPids()).to.deep.equal([]);
      }
    });

    it('passes 500 MB with backpressure: bounded memory', async function () {
      const { seen, onChunk } = watcher();
      const sink = slowDiscard();
      const growth = await rssGrowth(() =>
        pipeline([['head', '-c', '500M', '/dev/zero'], ['cat']], { output: sink, tap: { after: 0, onChunk } }),
      );
      expect(seen.bytes).to.equal(500 * MiB);
      expect(sink.bytes).to.equal(500 * MiB);
      expect(growth).to.be.below(100 * MiB);
      const { seen: read, onChunk: onRead } = watcher();
      const readGrowth = await rssGrowth(() => pipeline([['head', '-c', '500M', '/dev/zero']], { output: 'ignore', tap: { after: 0, onChunk: onRead } }));
      expect(read.bytes).to.equal(500 * MiB);
      expect(readGrowth).to.be.below(100 * MiB);
    });

    it('refuses a tap on no stage, or on a last stage writing to a path', async function () {
      const tap = (after: number) => ({ after, onChunk: () => undefined });
      let error: unknown;
      await pipeline([['true']], { output: slowDiscard(), tap: tap(1) }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
      await pipeline([['true']], { output: join(tmp, 'never'), tap: tap(0) }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(TypeError);
      expect(readdirSync(tmp)).not.to.include('never');
    });
  });

  describe('process groups', function () {
    /** What a stage says about itself: pid, then /proc/self/stat's pgrp and session, then SigIgn. */
    const SELF = ['sh', '-c', 'echo $$; cut -d" " -f5,6 /proc/$$/stat; grep SigIgn /proc/$$/status'];

    it('runs each stage in a process group of its own, in our session (not a new one), with terminal reads and writes ignored', async function () {
      // PERL5OPT=-w: the launcher must not warn on the way (its stderr would be the stage's).
      const stage = await run(SELF, { env: { PERL5OPT: '-w' } });
      expect(stage.stderrTail).to.equal('');
      const [pid, groupAndSession, sigIgn] = stage.stdout!.trim().split('\n') as [string, string, string];
      const [group, session] = groupAndSession.split(' ');
      expect(group).to.equal(pid);
      // A new session is a new scheduler autogroup: a pg_dump | zstd ran 20 % slower that way.
      expect(session).to.equal(statField(process.pid, 3));
      // SIGTTIN (21) and SIGTTOU (22): a stage that prompts on the terminal fails instead of stopping.
      const ignored = BigInt(`0x${sigIgn.split(/\s+/)[1]}`);
      expect(ignored & (1n << 20n), 'SIGTTIN ignored').to.not.equal(0n);
      expect(ignored & (1n << 21n), 'SIGTTOU ignored').to.not.equal(0n);
    });

    it('keeps argv[0] as given and reports a missing command as node does (ENOENT), not as perl', async function () {
      const shown = await run(['sh', '-c', 'echo "$0"; tr "\\0" " " < /proc/$$/cmdline']);
      expect(shown.stdout!.split('\n')).to.deep.equal(['sh', 'sh -c echo "$0"; tr "\\0" " " < /proc/$$/cmdline ']);
      const missing = await rejection(run(['backplan-no-such-tool', '--version']));
      expect(missing.message).to.match(/backplan-no-such-tool/).and.not.match(/perl/i);
      expect(missing.result.exitCode).to.equal(null);
    });

    it('stops a stage aborted the moment it was spawned, before its launcher has made its group', async function () {
      const controller = new AbortController();
      const abortedAt = Date.now();
      const rejected = rejection(run(['sleep', '30'], { signal: controller.signal }));
      controller.abort();
      expect((await rejected).code).to.equal('INTERRUPTED');
      // Not the 3 s the SIGKILL to its group would take.
      expect(Date.now() - abortedAt).to.be.below(1000);
    });

    it('falls back to a new session (node\'s detached) without perl, or for a command not on PATH', function () {
      const env = { PATH: '/usr/bin:/bin' };
      expect(ownGroupSpawn(['tar', '-x'], env, null)).to.deep.equal({ command: 'tar', args: ['-x'], detached: true, env });
      expect(ownGroupSpawn(['backplan-no-such-tool'], env, '/usr/bin/perl')).to.deep.equal({ command: 'backplan-no-such-tool', args: [], detached: true, env });
      const launched = ownGroupSpawn(['tar', '-x'], env, '/usr/bin/perl');
      expect(launched.detached).to.equal(false);
      expect(launched.args.slice(2)).to.deep.equal(['/usr/bin/tar', 'tar', '-x']);
    });
  });

  describe('renderCommand', function () {
    const args = ['pg_dump', '--file=/a b/c.dump', `it's`, 'x;y', '', '$(id)', 'tab\there\nnewline', '-v'];

    it('quotes only what needs it', function () {
      expect(renderCommand(args)).to.equal(
        `pg_dump '--file=/a b/c.dump' 'it'\\''s' 'x;y' '' '$(id)' $'tab\\there\\nnewline' -v`,
      );
    });

    it('renders a command a shell reads back to the same argv', async function () {
      const r = await run(['bash', '-c', `printf '%s\\0' ${renderCommand(args)}`]);
      expect(r.stdout!.split('\0').slice(0, -1)).to.deep.equal(args);
    });
  });
});
