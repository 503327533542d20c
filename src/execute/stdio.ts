/** Where a run's stdin comes from and where its last stage's stdout goes. */
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { finished, pipeline as pipeStreams } from 'node:stream/promises';
import { counting } from './tap.js';

const CAPTURE_BYTES = 1024 * 1024;

/** RunOptions.stdout, or the fd of a pipeline's output file, which the last stage writes itself. */
export type Output = 'ignore' | 'capture' | Writable | number;

export function stdoutStdio(output: Output): 'ignore' | 'pipe' | number {
  if (output === 'ignore' || typeof output === 'number') return output;
  return 'pipe';
}

export function feedStdin(input: NodeJS.ReadableStream, child: ChildProcess, onError: (e: unknown) => void): void {
  // A child may stop reading early (EPIPE); its exit status says whether that is a failure.
  child.stdin!.on('error', () => undefined);
  input.on('error', onError);
  input.pipe(child.stdin!);
}

/**
 * Reads and drops what a finished pipeline left of its stdin, so that its writer can end.
 * Unpiped first: the pipe to the first stage's stdin may close only after the stage is done,
 * and its unpipe would pause the stream again, leaving the writer waiting forever.
 */
export function readRest(stdin: Readable): void {
  stdin.unpipe();
  stdin.resume();
}

/** Takes the last stage's stdout where it belongs; never rejects (errors go to onError). */
export async function drainStdout(
  stdout: Readable | null,
  output: Output,
  onError: (e: unknown) => void,
  onChunk?: (chunk: Buffer) => void,
): Promise<{ bytes: number; text?: string }> {
  if (output === 'capture') return capture(stdout!);
  if (output === 'ignore' || typeof output === 'number') return { bytes: 0 };
  const counted = counting(onChunk);
  // end: false — whether the output is ended or destroyed depends on how every stage ends.
  await pipeStreams(stdout!, counted.transform, output, { end: false }).catch(onError);
  return { bytes: counted.bytes() };
}

function capture(stdout: Readable): Promise<{ bytes: number; text: string }> {
  const kept: Buffer[] = [];
  let bytes = 0;
  stdout.on('data', (chunk: Buffer) => {
    if (bytes < CAPTURE_BYTES) kept.push(chunk.subarray(0, CAPTURE_BYTES - bytes));
    bytes += chunk.length;
  });
  return new Promise((resolve) =>
    stdout.on('close', () => resolve({ bytes, text: Buffer.concat(kept).toString('utf8') })),
  );
}

/** Ends a Writable output after success (waiting for it to flush), destroys it after a failure. */
export async function settleOutput(output: Output, ok: boolean): Promise<unknown> {
  if (typeof output !== 'object') return undefined;
  if (!ok) {
    output.destroy();
    return undefined;
  }
  output.end();
  return finished(output).then(
    () => undefined,
    (e: unknown) => e,
  );
}
