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
import { findIn, manifestOf } from './manage.js';
import { localSnapshots } from '../restore/fetch.js';
import type { LocalSnapshots } from '../restore/fetch.js';
import type { Manifest } from '../manifest.js';
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

/**
 * `backplan restore FILE SNAPSHOT --to DIR`: repository, configuration and database back. From
 * an ssh destination the snapshot (and its chain) is copied here first (see restore/fetch.ts);
 * a dry run only looks at the remote listing.
 */
export async function restoreFile(file: string, id: string, o: RestoreCommandOptions, out: Output): Promise<void> {
  const manifest = await manifestOf(file);
  const destination = manifestDestination(manifest.destination);
  const log = (line: string) => out.err(`restore: ${line}\n`);
  const listed = await listSnapshots(destination);
  const wanted = completeIn(listed, id, destination);
  const local = o.dryRun ? { entries: listed, snapshot: wanted, release: async () => undefined } : await localSnapshots(destination, listed, wanted, { signal: o.signal, log });
  try {
    await restoreLocal(manifest, local, o, out, log);
  } finally {
    await local.release();
  }
}

async function restoreLocal(manifest: Manifest, { entries, snapshot }: LocalSnapshots, o: RestoreCommandOptions, out: Output, log: (line: string) => void): Promise<void> {
  const { connection, secrets, note } = await restoreConnection(manifest, snapshot.dir);
  if (note) out.err(`note: ${note}\n`);
  const plan = await prepareRestore({
    entries,
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
  await checkRestoreSources(plan, log, { signal: o.signal });
  await executeRestore(plan, secrets, log, o.signal).catch((e: unknown) => {
    log(`stopped: ${plan.targetDir} holds a partial restore; once the cause is fixed, run the restore again with --force`);
    throw e;
  });
  out.out(restoreSummary(plan));
}

/** The destination as commands use it: a local path resolved, a remote one as written. */
export function manifestDestination(destination: string): string {
  return remoteDestination(destination) ? destination : resolve(destination);
}

export async function completeSnapshot(destination: string, id: string): Promise<CompleteSnapshot> {
  return completeIn(await listSnapshots(destination), id, destination);
}

function completeIn(entries: SnapshotEntry[], id: string, destination: string): CompleteSnapshot {
  const entry: SnapshotEntry = findIn(entries, id, destination);
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
