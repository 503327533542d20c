import { join, resolve } from 'node:path';
import { BackplanError } from '../errors.js';
import { listSnapshots } from '../record/destination.js';
import type { SnapshotEntry } from '../record/destination.js';
import type { CompleteSnapshot } from '../restore/chain.js';
import { restoreConnection } from '../restore/connection.js';
import { describeRestore } from '../restore/describe.js';
import { checkRestoreSources, executeRestore, prepareRestore, serverName } from '../restore/restore.js';
import type { RestorePlan } from '../restore/restore.js';
import { remoteDestination } from '../util/destination.js';
import { findSnapshot, manifestOf } from './manage.js';
import type { Output } from './output.js';

export interface RestoreCommandOptions {
  to: string;
  database?: string;
  owner?: string;
  noOwner?: boolean;
  force?: boolean;
  jobs: number;
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** `backplan restore FILE SNAPSHOT --to DIR`: repository, configuration and database back. */
export async function restoreFile(file: string, id: string, o: RestoreCommandOptions, out: Output): Promise<void> {
  const manifest = await manifestOf(file);
  const destination = localDestination(manifest.destination, 'restore');
  const snapshot = await completeSnapshot(destination, id);
  const { connection, secrets, note } = await restoreConnection(manifest, snapshot.dir);
  if (note) out.err(`note: ${note}\n`);
  const plan = await prepareRestore({
    entries: await listSnapshots(destination),
    snapshot,
    targetDir: resolve(o.to),
    connection,
    secrets,
    database: o.database,
    owner: o.owner,
    noOwner: o.noOwner ?? false,
    jobs: o.jobs,
    force: o.force ?? false,
  });
  if (o.dryRun) {
    out.out(describeRestore(plan));
    return;
  }
  const log = (line: string) => out.err(`restore: ${line}\n`);
  await checkRestoreSources(plan, log, { signal: o.signal });
  await executeRestore(plan, secrets, log, o.signal).catch((e: unknown) => {
    log(`stopped: ${plan.targetDir} holds a partial restore; once the cause is fixed, run the restore again with --force`);
    throw e;
  });
  out.out(restoreSummary(plan));
}

/** Restores read snapshot folders directly: an ssh destination is out of their reach. */
export function localDestination(destination: string, command = 'restore'): string {
  const remote = remoteDestination(destination);
  if (remote) {
    throw new BackplanError('USAGE', `the destination ${destination} is remote; ${command} reads a local destination`, {
      hint: `copy the snapshot folder (and, for an incremental, its chain) here, e.g. \`rsync -aH ${destination}/ ./copy/\`, and point a manifest at it`,
    });
  }
  return resolve(destination);
}

/** The destination as commands use it: a local path resolved, a remote one as written. */
export function manifestDestination(destination: string): string {
  return remoteDestination(destination) ? destination : resolve(destination);
}

export async function completeSnapshot(destination: string, id: string): Promise<CompleteSnapshot> {
  const entry: SnapshotEntry = await findSnapshot(destination, id);
  if (!entry.complete || !entry.record) {
    throw new BackplanError('SNAPSHOT', `snapshot ${entry.id} is incomplete (no readable snapshot.json): it is not a backup`, {
      hint: 'pick a complete snapshot (backplan list)',
    });
  }
  return entry as CompleteSnapshot;
}

function restoreSummary(plan: RestorePlan): string {
  const lines = [`restored ${plan.snapshot.id} into ${plan.targetDir}`];
  if (plan.repository) lines.push(`  repository  ${plan.repository.target}`);
  if (plan.config) lines.push(`  config      ${plan.config.target}${plan.config.kind === 'aiida' ? ` (AiiDA profile ${plan.config.profile})` : ''}`);
  if (plan.database) lines.push(`  database    ${plan.database.name} on ${serverName(plan.database.connection)}`);
  if (plan.config?.kind === 'aiida') {
    lines.push(`next: use ${plan.config.target} as $AIIDA_PATH/.aiida/config.json (e.g. copy it to ${join(plan.targetDir, '.aiida', 'config.json')} and set AIIDA_PATH=${plan.targetDir}), or merge its profile into your config`);
  }
  return lines.join('\n') + '\n';
}
