/**
 * The fast join of a tapped pair of stages: the first writes into a FIFO, node reads it into one
 * reused buffer, shows each chunk to the tap and writes it on to the next stage's stdin.
 *
 * Why not the child's stdout socket (joinThroughTap): node reads a socket into a new 64 KiB
 * buffer each time, and touching fresh memory is what that relay cost. On 10k small files (a
 * 38 MB tar stream) it took 180 ms of node's CPU against 75 ms this way, on a VM where page
 * faults are dear; `tar | cat | zstd` costs next to nothing over `tar | zstd`.
 *
 * Node's cost is per read, and a reader that is always waiting gets a pipe's bytes a few pages
 * at a time: 3,500 reads of 7 KiB on average for a 24 MB tar stream. So the FIFO is made to
 * hold 1 MiB, and a short read waits a millisecond before the next: tar goes on writing
 * meanwhile, and the reads come in tens of KiB. On that stream, node's CPU in a first run went
 * from 190–260 ms to 100–130 ms, and the tapped tar | zstd took 0.30 s against 0.34 s for the
 * two joined by the kernel (whose socketpair holds less).
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { finished } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import type { OnReadOpts, SocketConstructorOpts } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Proc } from './lifetime.js';
import { discard } from '../util/discard.js';
import { perlPath } from './own-group.js';
import { isJoinFailure, TapError } from './tap.js';

const execFileAsync = promisify(execFile);
/** Room for several of tar's 64 KiB records, should they be waiting in the FIFO. */
const READ_BUFFER = 1024 * 1024;
/** What we ask the FIFO to hold (Linux's pipe-max-size by default). */
const FIFO_BYTES = 1024 * 1024;
/** A pipe's size unless someone changes it (Linux). */
const DEFAULT_PIPE_BYTES = 64 * 1024;
/** How long a read shorter than DEFAULT_PIPE_BYTES waits for more, in a FIFO with room for it. */
const GATHER_MS = 1;
const FOLDER_PREFIX = 'backplan-tap-';
/** A FIFO's folder lives for the milliseconds between mkdtemp and rm; one this old is garbage. */
const STALE_MS = 60_000;
let swept: Promise<void> | undefined;

/**
 * Makes the FIFO, enlarges it (fcntl F_SETPIPE_SZ, 1031, which node lacks; the size a number,
 * as perl passes a string by address) and prints the size it then has (F_GETPIPE_SZ, 1032), 0
 * if it could not ask. A FIFO keeps its size only while someone holds it open, so this holds it
 * until its stdin closes, once ours are open. Fcntl rather than POSIX (for mkfifo): it loads in a
 * third of the time.
 */
const MAKE_FIFO =
  'use Fcntl; my ($path, $bytes) = @ARGV; system("mkfifo", "-m", "600", "--", $path) == 0 or exit 1; sysopen(my $r, $path, O_RDONLY | O_NONBLOCK) or exit 1; fcntl($r, 1031, $bytes + 0); my $size = fcntl($r, 1032, 0); print(($size || 0) + 0, "\n"); close STDOUT; <STDIN>; exit 0';

let spare: Promise<TapFifo | undefined> | undefined;

/**
 * Starts making a FIFO for the next openTapFifo to take. Making one starts perl and mkfifo:
 * 40-70 ms in a run, on the path of the step that taps, where the two cores are busy starting
 * the dump beside it; made while a run reads its manifest and plans, that wait overlaps theirs.
 * Settles once it is made (or could not be).
 */
export function prepareTapFifo(): Promise<unknown> {
  spare ??= makeTapFifo();
  return spare;
}

/**
 * A FIFO, already opened at both ends (and unlinked): `writeFd` is for the tapped stage's stdout,
 * the read end stays ours; the one prepareTapFifo made, if any. Undefined where one cannot be
 * made (no mkfifo): the caller then joins the pair through the stage's stdout socket instead.
 * Without perl, it has the default size.
 */
export async function openTapFifo(): Promise<TapFifo | undefined> {
  const prepared = spare;
  spare = undefined;
  return (await prepared) ?? makeTapFifo();
}

/** A FIFO made now, as openTapFifo describes; `perl` null makes it without perl. */
export async function makeTapFifo(perl = perlPath()): Promise<TapFifo | undefined> {
  void (swept ??= sweepStaleTapFolders());
  const dir = await mkdtemp(join(tmpdir(), FOLDER_PREFIX)).catch(() => undefined);
  if (dir === undefined) return undefined;
  const path = join(dir, 'stream');
  let maker: ChildProcess | undefined;
  let readFd: number | undefined;
  try {
    let bytes = DEFAULT_PIPE_BYTES;
    if (perl) {
      maker = spawn(perl, ['-e', MAKE_FIFO, path, String(FIFO_BYTES)], { stdio: ['pipe', 'pipe', 'ignore'] });
      // One that cannot start says nothing, and the open below fails.
      maker.on('error', () => undefined);
      bytes = Number(await text(maker.stdout!)) || DEFAULT_PIPE_BYTES;
    } else {
      await execFileAsync('mkfifo', ['-m', '600', '--', path]);
    }
    // Non-blocking, so that opening it does not wait for a writer; then the write end cannot
    // block either, as a reader exists.
    readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    return new TapFifo(readFd, openSync(path, constants.O_WRONLY), bytes);
  } catch {
    if (readFd !== undefined) closeSync(readFd);
    return undefined;
  } finally {
    maker?.stdin!.end();
    await rm(dir, { recursive: true, force: true });
  }
}

/** All a stream says, as text. */
async function text(stream: Readable): Promise<string> {
  let said = '';
  for await (const chunk of stream) said += String(chunk);
  return said;
}

/**
 * Removes the FIFO folders that processes killed (SIGKILL) between making and removing them
 * left in the temp folder; once per process, and never one young enough to be in use.
 */
export async function sweepStaleTapFolders(): Promise<void> {
  const now = Date.now();
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.startsWith(FOLDER_PREFIX))
      .map(async (name) => {
        const path = join(tmpdir(), name);
        const info = await lstat(path).catch(() => undefined);
        if (info?.isDirectory() && now - info.mtimeMs > STALE_MS) await rm(path, { recursive: true, force: true }).catch(() => undefined);
      }),
  );
}

export class TapFifo {
  private source?: Socket;

  constructor(
    private readonly readFd: number,
    private writeEnd: number | undefined,
    /** What the FIFO holds: more than a default pipe lets a short read wait for more. */
    readonly bytes: number,
  ) {}

  get writeFd(): number {
    if (this.writeEnd === undefined) throw new Error('the FIFO write end was handed over already');
    return this.writeEnd;
  }

  /** Ours goes once the stage holds its copy: while we hold one, the read end never sees EOF. */
  closeWriteEnd(): void {
    if (this.writeEnd !== undefined) closeSync(this.writeEnd);
    this.writeEnd = undefined;
  }

  /** For a pipeline that never started: both ends. */
  dispose(): void {
    this.closeWriteEnd();
    if (this.source) this.source.destroy();
    else closeSync(this.readFd);
  }

  /**
   * Reads the FIFO to its end, showing every chunk to onChunk and keeping none: a tap on a
   * pipeline's last stage whose bytes go nowhere else (restore's listing pass). As join does,
   * into a Writable that drops them.
   */
  drain(onChunk: (chunk: Buffer) => void, onError: (e: unknown) => void): Promise<number> {
    return this.relay(discard(), onChunk, onError);
  }

  /**
   * Relays the FIFO to `to`'s stdin, showing every chunk to onChunk (valid only during the call:
   * the buffer is read over next). Resolves with the bytes passed, never rejects. As with a
   * kernel pipe: a chunk not yet taken by `to` holds the reading back; the end of the stream
   * ends `to`'s stdin; any failure closes the read end, so that the writing stage sees its
   * reader gone; `to` gone is its own exit status's business, not an IO failure.
   */
  join(to: Proc, onChunk: (chunk: Buffer) => void, onError: (e: unknown) => void): Promise<number> {
    return this.relay(to.child.stdin!, onChunk, onError);
  }

  private relay(stdin: Writable, onChunk: (chunk: Buffer) => void, onError: (e: unknown) => void): Promise<number> {
    let bytes = 0;
    // Waiting cannot stall the writer only where the FIFO holds more than it writes meanwhile.
    const roomy = this.bytes > DEFAULT_PIPE_BYTES;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (e?: unknown) => {
        if (settled) return;
        settled = true;
        if (e !== undefined && isJoinFailure(e)) onError(e);
        if (e !== undefined) {
          source.destroy();
          stdin.destroy();
        }
        resolve(bytes);
      };
      const pass = (n: number, buffer: Uint8Array): boolean => {
        const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, n);
        bytes += n;
        try {
          onChunk(chunk);
        } catch (e) {
          settle(new TapError(e));
          return false;
        }
        const gather = roomy && n < DEFAULT_PIPE_BYTES;
        // Reading goes on once stdin has taken the chunk (our buffer holds it till then) and,
        // for a short read, once more has had a moment to arrive.
        let written = false;
        let rested = !gather;
        const readOn = () => written && rested && !settled && source.resume();
        stdin.write(chunk, (e) => {
          written = !e;
          readOn();
        });
        if (gather) setTimeout(() => ((rested = true), readOn()), GATHER_MS);
        // Written through at once (the usual case) and nothing to wait for: read on.
        return !gather && stdin.writableLength === 0;
      };
      const source = this.reader(pass);
      source.on('error', settle);
      source.on('end', () => stdin.end());
      // Written out and ended, failed, or closed under us (the stage was stopped): settled.
      finished(stdin, (e) => settle(e ?? undefined));
    });
  }

  /** The read end as a socket reading into one reused buffer, each read handed to `callback`. */
  private reader(callback: (n: number, buffer: Uint8Array) => boolean): Socket {
    // onread is a documented option of new net.Socket() (nodejs/node#54194); our @types/node
    // lists it under connect() only.
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd: this.readFd,
      readable: true,
      writable: false,
      onread: { buffer: Buffer.allocUnsafeSlow(READ_BUFFER), callback },
    };
    this.source = new Socket(options);
    return this.source;
  }
}
