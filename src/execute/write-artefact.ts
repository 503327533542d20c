/**
 * A pipeline into one artefact of a snapshot, hashed on the way. Where the destination stages
 * the artefact in a local file and the last stage only appends, that stage writes the file
 * itself and node hashes it as it grows (growing-file.ts); otherwise the bytes pass through
 * node into the destination's sink.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Destination } from '../destination/types.js';
import { pipeline } from './subprocess.js';
import type { PipelineOptions } from './subprocess.js';

export interface ArtefactPipelineOptions extends Omit<PipelineOptions, 'output' | 'hashOutput'> {
  /** The last stage writes front to back, never seeking back (not pg_dump into a file). */
  appendOnly: boolean;
}

/**
 * `stages` into artefact `artefact` of the snapshot a step writes, for stages that end in a
 * compressor or age (so append only): the step's pipeIntoArtefact with the rest bound.
 */
export type ArtefactWriter = (artefact: string, stages: string[][], opts: Omit<ArtefactPipelineOptions, 'appendOnly'>) => Promise<{ sha256: string; bytes: number }>;

export async function pipeIntoArtefact(
  destination: Destination,
  id: string,
  artefact: string,
  stages: string[][],
  opts: ArtefactPipelineOptions,
): Promise<{ sha256: string; bytes: number }> {
  const { appendOnly, ...rest } = opts;
  // A tap on the last stage needs its bytes in node anyway.
  const direct = appendOnly && rest.tap?.after !== stages.length - 1;
  const file = direct ? destination.artefactFile?.(id, artefact) : undefined;
  if (file !== undefined) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const last = (await pipeline(stages, { ...rest, output: file, hashOutput: true })).at(-1)!;
    return { sha256: last.stdoutSha256!, bytes: last.stdoutBytes };
  }
  const sink = destination.artefactSink(id, artefact);
  await pipeline(stages, { ...rest, output: sink.stream });
  return sink.done();
}
