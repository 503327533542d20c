import { join } from 'node:path';
import type { Compression } from '../manifest.js';
import type { PlannedStep } from '../plan/types.js';
import { renderPipeline } from '../execute/render.js';
import { encryptStage, sealedName } from '../execute/age.js';
import { pipeIntoArtefact } from '../execute/write-artefact.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';
import { reportProgress } from './progress.js';
import { tarCounter } from '../record/tar-count.js';
import { TAR_CREATE, tarExcludes } from '../util/tar-args.js';

export interface RepoTarOptions {
  source: string;
  stages: string[][];
  artefact: string;
  compression: Compression;
}

const EXTENSION: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' };
/** GNU tar exits 1 when a file changed while read: harmless here (files newer than the dump are). */
const TAR_CHANGED_FILES = 1;
/** The tar stage, whose stream is counted on its way to the compressor (or the artefact). */
const TAR_STAGE = 0;

export function planRepoTar(input: PlanInput): PlannedStep<RepoTarOptions> {
  const { compression, level } = input.settings.repository.tar;
  const source = input.profile.repository.path;
  const tar = [...TAR_CREATE, `--directory=${source}`, ...tarExcludes(input.settings.repository.exclude), '.'];
  const stages = [tar];
  if (compression === 'zstd') stages.push(['zstd', `-${level}`, '-T0', '-q', '-c']);
  if (compression === 'gzip') stages.push(['gzip', `-${Math.min(level, 9)}`, '-c']);
  const { encryption } = input.settings;
  if (encryption) stages.push(encryptStage(encryption));
  const artefact = sealedName(`repository.tar${EXTENSION[compression]}`, encryption);
  return {
    id: 'repository',
    kind: 'repo-tar',
    needs: [],
    always: false,
    summary: `archive ${source} into ${artefact}`,
    commands: [renderPipeline(stages, { output: join(input.snapshot.partialDir, artefact) })],
    options: { source, stages, artefact, compression },
  };
}

/**
 * Streams tar (and its compressor) into the artefact, hashing it as it lands, and counts the files
 * and bytes archived from tar's own stream (for snapshot.json and restore tests).
 */
export const runRepoTar: StepRun<RepoTarOptions> = async (step, ctx, signal) => {
  const o = step.options;
  const partialDir = ctx.plan.snapshot.partialDir;
  const counter = tarCounter();
  const tap = { after: TAR_STAGE, onChunk: (chunk: Buffer) => counter.push(chunk) };
  const onStderrLine = (line: string) => ctx.emit({ type: 'step-log', step: step.id, level: 'warn', message: line });
  const stopProgress = reportProgress(ctx, step.id, join(partialDir, o.artefact));
  const opts = { signal, onStderrLine, tap, okExitCodes: [[0, TAR_CHANGED_FILES]], appendOnly: true };
  const written = await pipeIntoArtefact(ctx.destination, ctx.plan.snapshot.id, o.artefact, o.stages, opts).finally(stopProgress);
  ctx.state.artefacts.push({ path: o.artefact, ...written });
  ctx.state.repository = { strategy: 'tar', layout: ctx.plan.profile.repository.layout, source: o.source, ...counter.result() };
  return { bytes: written.bytes };
};

