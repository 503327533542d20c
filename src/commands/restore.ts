import { resolve } from 'node:path';
import type { CompleteSnapshot, Destination, LocalSnapshots } from '../destination/types.js';
import { snapshotChain } from '../record/chain.js';
import { adminRole, adminSecrets } from '../restore/admin.js';
import { BackplanError } from '../errors.js';
import { identityFile } from '../execute/age.js';
import { onServer, restoreConnection } from '../restore/connection.js';
import { describeRestore } from '../restore/describe.js';
import { countIncluded, includeFilter } from '../restore/include.js';
import { canReadInPlace } from '../restore/repo-listing.js';
import { checkRestoreSources, executeRestore, prepareRestore } from '../restore/restore.js';
import type { RestorePlan } from '../restore/restore.js';
import { assessJob, openJob, restorableIn } from './manage.js';
import type { Manifest } from '../manifest.js';
import type { Output } from './output.js';

export interface RestoreCommandOptions {
  to: string;
  database?: string;
  owner?: string;
  /** Creates and loads the database as this role (restore/admin.ts; else DATABASE_URL's or PGUSER's). */
  adminUser?: string;
  noOwner?: boolean;
  /** pg_restore --no-privileges: no GRANTs, for a server without the roles they name. */
  noPrivileges?: boolean;
  /** Creates the roles the dump names that the target lacks (restore/roles.ts). */
  createRoles?: boolean;
  /** Another server than the profile's (restore/connection.ts: onServer). */
  host?: string;
  port?: number;
  user?: string;
  dsn?: string;
  force?: boolean;
  jobs: number;
  dryRun?: boolean;
  profileName?: string;
  mergeInto?: string;
  /** Only the repository paths these patterns select (restore/include.ts). */
  include?: string[];
  /** With --include: restore the database too. */
  withDatabase?: boolean;
  /** The age identity file for an encrypted snapshot (else BACKPLAN_AGE_IDENTITY_FILE). */
  identity?: string;
  signal?: AbortSignal;
}

/**
 * `backplan restore FILE SNAPSHOT --to DIR`: repository, configuration and database back. Only
 * a restorable snapshot of the job is taken (`latest`: the newest). From a remote destination
 * only the small files of the snapshot and its chain are fetched here first; the archives, pack
 * pieces and dump are streamed from there, hashed as they pass (restore/source.ts). A dry run
 * only reads the listing.
 */
export async function restoreFile(file: string, id: string, o: RestoreCommandOptions, out: Output): Promise<void> {
  if (o.withDatabase && !o.include?.length) {
    throw new BackplanError('USAGE', '--with-database goes with --include (a restore without --include brings the database back anyway)', { hint: 'add --include PATTERN, or leave --with-database out' });
  }
  const job = await openJob(file);
  const { manifest, destination } = job;
  const log = (line: string) => out.err(`restore: ${line}\n`);
  const identity = await identityFile(o.identity);
  const assessed = await assessJob(job);
  const chain = snapshotChain(assessed, restorableIn(assessed, id, destination));
  // A dry run reads only the listing: nothing is copied from a remote destination.
  const local = o.dryRun ? readInPlace(chain, destination) : await destination.fetch(chain, { signal: o.signal, log });
  try {
    await restoreLocal(manifest, local, { ...o, identity }, out, log, file);
  } finally {
    await local.release();
  }
}

function readInPlace(chain: CompleteSnapshot[], destination: Destination): LocalSnapshots {
  return { entries: chain, local: destination, copied: false, release: async () => undefined };
}

async function restoreLocal(manifest: Manifest, local: LocalSnapshots, o: RestoreCommandOptions, out: Output, log: (line: string) => void, file: string): Promise<void> {
  const snapshot = local.entries.at(-1)!;
  const target = onServer(await restoreConnection(manifest, snapshot.dir, process.env, o.identity), o);
  const { connection, secrets, note } = target;
  if (note) out.err(`note: ${note}\n`);
  if (target.database !== undefined && o.database !== undefined && target.database !== o.database) {
    throw new BackplanError('USAGE', `--dsn names the database ${target.database} and --database ${o.database}`, { hint: 'give the database once' });
  }
  const { admin, note: adminNote } = adminRole(connection, o.adminUser);
  if (adminNote) out.err(`note: ${adminNote}\n`);
  const plan = await prepareRestore({
    chain: local.entries,
    targetDir: resolve(o.to),
    connection,
    secrets,
    admin,
    database: o.database ?? target.database,
    owner: o.owner,
    noOwner: o.noOwner ?? false,
    noPrivileges: o.noPrivileges ?? false,
    createRoles: o.createRoles ?? false,
    jobs: o.jobs,
    force: o.force ?? false,
    profileName: o.profileName,
    mergeInto: o.mergeInto === undefined ? undefined : resolve(o.mergeInto),
    include: o.include,
    withDatabase: o.withDatabase,
    identity: o.identity,
    remote: local.remote,
  });
  await countSelection(plan, o.include, local, file, o.signal);
  if (o.dryRun) {
    out.out(describeRestore(plan));
    return;
  }
  for (const line of plan.notes) log(`note: ${line}`);
  await checkRestoreSources(plan, local.local, log, { signal: o.signal, streamedFrom: local.remote });
  await executeRestore(plan, adminSecrets(secrets, admin), log, o.signal).catch((e: unknown) => {
    log(`stopped: ${plan.targetDir} holds a partial restore; once the cause is fixed, run the restore again with --force`);
    throw e;
  });
  out.out(restoreSummary(plan));
}

/** Under --include, what the patterns select; none is refused before anything is written. */
async function countSelection(plan: RestorePlan, patterns: string[] | undefined, local: LocalSnapshots, file: string, signal?: AbortSignal): Promise<void> {
  if (!patterns?.length) return;
  const repo = plan.repository;
  // Archives a fetch left on the destination are read there, as `ls` does.
  const reader = local.remote ?? local.local;
  // A kind that cannot be read in place is counted once fetched (a dry run leaves it uncounted).
  if (repo && !canReadInPlace(reader)) return;
  if (repo) {
    repo.matched = await countIncluded(reader, local.entries, includeFilter(patterns), signal, repo.identity);
    if (repo.matched.entries > 0) return;
  }
  throw new BackplanError('RESTORE_REFUSED', `no path of the repository of ${plan.snapshot.id} matches --include ${patterns.join(', ')}; nothing was changed`, {
    hint: `backplan ls ${file} ${plan.snapshot.id} lists what it holds; patterns are globs on paths relative to the repository root (a folder brings what is under it)`,
  });
}

function restoreSummary(plan: RestorePlan): string {
  const lines = [`restored ${plan.snapshot.id} into ${plan.targetDir}`];
  const repo = plan.repository;
  if (repo) lines.push(`  repository  ${repo.target}${repo.include ? ` (only ${repo.include.join(', ')}${repo.matched ? `: ${repo.matched.entries} entries` : ''})` : ''}`);
  if (plan.config) lines.push(`  config      ${plan.config.target}${plan.config.kind === 'aiida' ? ` (AiiDA profile ${plan.config.profile})` : ''}`);
  const db = plan.database;
  if (db) lines.push(`  database    ${db.name} on ${db.connection.host}:${db.connection.port}, owner ${db.owner}`);
  const created = db?.roles.create?.roles;
  if (created) lines.push(`  roles       created ${created.join(', ')}, without passwords (where pg_hba.conf asks for one, set it: ALTER ROLE … PASSWORD)`);
  if (plan.config?.kind === 'aiida') {
    const { merge, profile } = plan.config;
    if (merge) lines.push(`  merged      profile ${profile} into ${merge.file} (its previous content kept as ${merge.backup})`);
    lines.push(merge ? `next: verdi --profile ${profile} status` : `next: AIIDA_PATH=${plan.targetDir} verdi status`);
  }
  return lines.join('\n') + '\n';
}
