import type { PlannedStep } from '../plan/types.js';
import { renderPipeline } from '../execute/render.js';
import { run } from '../execute/subprocess.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface RepoRsyncOptions {
  source: string;
  argv: string[];
  artefact: 'repository';
  /** The previous snapshot's repository/ that unchanged files are hard-linked to. */
  linkDest?: string;
}

/**
 * `rsync --archive` into the snapshot's repository/, hard-linking unchanged files to the previous
 * snapshot's. To a remote destination it goes straight there over ssh (never staged): the
 * previous snapshot to link to is there too, and a repository is the one artefact too big to
 * stage.
 */
export function planRepoRsync(input: PlanInput): PlannedStep<RepoRsyncOptions> {
  const { rsync, exclude } = input.settings.repository;
  const source = input.profile.repository.path;
  const linkTo = rsync.linkDest ? input.previous?.id : undefined;
  const { options, target, linkDest } = input.destination.rsyncTarget(input.snapshot.id, 'repository', linkTo);
  const argv = [
    'rsync',
    '--archive',
    '--hard-links',
    '--sparse',
    ...options,
    ...(linkDest ? [`--link-dest=${linkDest}`] : []),
    ...exclude.map((p) => `--exclude=${p}`),
    ...rsync.args,
    '--',
    `${source}/`,
    `${target}/`,
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
  // Hashed where the copy is: the source may have changed since rsync read it.
  const sums = await ctx.destination.folderSums(ctx.plan.snapshot.id, o.artefact, signal);
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
