import { join } from 'node:path';
import type { PlannedStep } from '../plan/types.js';
import { renderPipeline } from '../execute/render.js';
import { run } from '../execute/subprocess.js';
import { writeSha256Sums } from '../record/checksums.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface RepoRsyncOptions {
  source: string;
  argv: string[];
  artefact: 'repository';
  /** The previous snapshot's repository/ that unchanged files are hard-linked to. */
  linkDest?: string;
}

export function planRepoRsync(input: PlanInput): PlannedStep<RepoRsyncOptions> {
  const { rsync, exclude } = input.settings.repository;
  const source = input.profile.repository.path;
  const linkDest = rsync.linkDest && input.previous ? join(input.previous.dir, 'repository') : undefined;
  const argv = [
    'rsync',
    '--archive',
    '--hard-links',
    ...(linkDest ? [`--link-dest=${linkDest}`] : []),
    ...exclude.map((p) => `--exclude=${p}`),
    ...rsync.args,
    '--',
    `${source}/`,
    `${join(input.snapshot.partialDir, 'repository')}/`,
  ];
  return {
    id: 'repository',
    kind: 'repo-rsync',
    needs: [],
    always: false,
    summary: `copy ${source} with rsync${linkDest ? `, hard-linking unchanged files to ${input.previous!.id}` : ''}`,
    commands: [renderPipeline([argv])],
    options: { source, argv, artefact: 'repository', linkDest },
  };
}

/** rsync 24: files vanished while copying. Harmless: a vanished file belonged to no committed node. */
const RSYNC_VANISHED = 24;

/** Copies with rsync (hard-linking unchanged files), then lists every file's sha256 beside it. */
export const runRepoRsync: StepRun<RepoRsyncOptions> = async (step, ctx, signal) => {
  const o = step.options;
  const onStderrLine = (line: string) => ctx.emit({ type: 'step-log', step: step.id, level: 'warn', message: line });
  await run(o.argv, { signal, onStderrLine, stdout: 'ignore', okExitCodes: [0, RSYNC_VANISHED] });
  const sums = await writeSha256Sums(ctx.plan.snapshot.partialDir, o.artefact);
  ctx.state.artefacts.push(sums);
  ctx.state.repository = {
    strategy: 'rsync',
    layout: ctx.plan.profile.repository.layout,
    source: o.source,
    files: sums.covers!.files,
    bytes: sums.covers!.bytes,
  };
  return { bytes: sums.covers!.bytes };
};
