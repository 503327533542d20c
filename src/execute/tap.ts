/**
 * The pipeline tap: two stages joined through node instead of the kernel, so that JS sees every
 * chunk between them (PipelineOptions.tap).
 */
import type { Writable } from 'node:stream';
import { pipeline as pipeStreams } from 'node:stream/promises';
import type { Proc } from './lifetime.js';

/**
 * A reader gone (READER_GONE_TEXT in stderr-tail.ts) as node sees it, writing into a stage that
 * has exited (or closed its stdin before we ended it).
 */
const READER_GONE_CODES = new Set(['EPIPE', 'ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE']);

/** What a join reports as an IO failure: not the next stage gone (its exit status tells). */
export function isJoinFailure(e: unknown): boolean {
  return e instanceof TapError || !READER_GONE_CODES.has((e as NodeJS.ErrnoException).code ?? '');
}

export interface PipelineTap {
  after: number;
  /** The chunk is valid only during the call: the FIFO join reads the next one over it. */
  onChunk(chunk: Buffer): void;
}

export function checkTap(tap: PipelineTap | undefined, stages: number, output: Writable | string): void {
  if (tap === undefined) return;
  if (!Number.isInteger(tap.after) || tap.after < 0 || tap.after >= stages) throw new RangeError(`no stage ${tap.after} to tap`);
  // A path output is written by the last stage itself; its bytes never reach JS.
  if (tap.after === stages - 1 && typeof output === 'string' && output !== 'ignore') throw new TypeError("a tap on the last stage needs a Writable output or 'ignore'");
}

/** What a tap threw, told apart from the errors of the streams around it. */
export class TapError extends Error {
  constructor(readonly error: unknown) {
    super('tap failed');
  }
}

/**
 * Joins `from`'s stdout to `to`'s stdin through node, showing every chunk to onChunk on the way;
 * resolves with the bytes passed, never rejects. The kernel pipe it replaces is mimicked: stream
 * pipeline() gives backpressure, ends `to`'s stdin when `from` stops writing (exited or died),
 * and on any error destroys our end of `from`'s stdout, so that `from` sees its reader gone
 * (EPIPE, ECONNRESET) as it would have and Blame.ReaderGone stays right.
 */
export async function joinThroughTap(from: Proc, to: Proc, onChunk: (chunk: Buffer) => void, onError: (e: unknown) => void): Promise<number> {
  const counted = counting(onChunk);
  // `to` gone is its own exit status's business, as with a kernel pipe; not an IO failure.
  await pipeStreams(from.child.stdout!, counted.transform, to.child.stdin!).catch((e: unknown) => {
    if (isJoinFailure(e)) onError(e);
  });
  return counted.bytes();
}

/** A pass-through that counts bytes and shows each chunk to a tap, whose errors become TapErrors. */
export function counting(onChunk?: (chunk: Buffer) => void) {
  let bytes = 0;
  const transform = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      bytes += chunk.length;
      try {
        onChunk?.(chunk);
      } catch (e) {
        throw new TapError(e);
      }
      yield chunk;
    }
  };
  return { transform, bytes: () => bytes };
}
