import { join, posix } from 'node:path';
import type { PlannedStep } from '../plan/types.js';
import { renderPipeline } from '../execute/render.js';
import { run } from '../execute/subprocess.js';
import { writeSha256Sums } from '../record/checksums.js';
import { remoteSha256Sums } from '../record/remote/destination.js';
import { rsyncShell } from '../record/remote/ssh.js';
import { remoteDestination, remoteSpec } from '../util/destination.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface RepoRsyncOptions {
  source: string;
  argv: string[];
  artefact: 'repository';
  /** The previous snapshot's repository/ that unchanged files are hard-linked to. */
  linkDest?: string;
  /** Remote destinations: the .partial- folder there that the copy goes straight into. */
  uploadDir?: string;
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
  const { uploadDir, partialDir } = input.snapshot;
  const remote = uploadDir === undefined ? undefined : remoteDestination(uploadDir);
  const linkDest = rsync.linkDest && input.previous ? folderPath(join(input.previous.dir, 'repository')) : undefined;
  const target = remote ? remoteSpec({ host: remote.host, path: posix.join(remote.path, 'repository') }) : join(partialDir, 'repository');
  const argv = [
    'rsync',
    '--archive',
    '--hard-links',
    ...(remote ? ['--protect-args', `--rsh=${rsyncShell()}`] : []),
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
    summary: `copy ${source} with rsync${remote ? ` to ${remote.host}` : ''}${linkDest ? `, hard-linking unchanged files to ${input.previous!.id}` : ''}`,
    commands: [renderPipeline([argv])],
    options: { source, argv, artefact: 'repository', linkDest, uploadDir },
  };
}

/** A folder as rsync's --link-dest names it: on the receiving side, so without a remote's host. */
function folderPath(dir: string): string {
  return remoteDestination(dir)?.path ?? dir;
}

/** rsync 24: files vanished while copying. Harmless: a vanished file belonged to no committed node. */
const RSYNC_VANISHED = 24;

/** Copies with rsync (hard-linking unchanged files), then lists every file's sha256 beside it. */
export const runRepoRsync: StepRun<RepoRsyncOptions> = async (step, ctx, signal) => {
  const o = step.options;
  const onStderrLine = (line: string) => ctx.emit({ type: 'step-log', step: step.id, level: 'warn', message: line });
  await run(o.argv, { signal, onStderrLine, stdout: 'ignore', okExitCodes: [0, RSYNC_VANISHED] });
  const { partialDir } = ctx.plan.snapshot;
  const remote = o.uploadDir === undefined ? undefined : remoteDestination(o.uploadDir);
  // Hashed where the copy is: the source may have changed since rsync read it.
  const sums = remote
    ? await remoteSha256Sums(remote, o.artefact, join(partialDir, `${o.artefact}.SHA256SUMS`), signal)
    : await writeSha256Sums(partialDir, o.artefact);
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
