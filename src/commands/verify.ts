import { BackplanError, isBackplanError } from '../errors.js';
import { identityFile } from '../execute/age.js';
import { VERIFICATION_FILE } from '../destination/shared/listing.js';
import type { CompleteSnapshot, Destination } from '../destination/types.js';
import { newestRestorable } from '../record/health.js';
import type { AssessedSnapshot } from '../record/health.js';
import { snapshotChain } from '../record/chain.js';
import { verifySnapshot } from '../record/verify.js';
import type { VerifyReport } from '../destination/types.js';
import { adminRole } from '../restore/admin.js';
import { restoreConnection } from '../restore/connection.js';
import { restoreTest } from '../restore/restore-test.js';
import type { RestoreTestResult } from '../restore/restore-test.js';
import { formatBytes } from '../util/bytes.js';
import type { Manifest } from '../manifest.js';
import { assessJob, findIn, openJob } from './manage.js';
import type { Output } from './output.js';

export interface VerifyCommandOptions {
  all?: boolean;
  /** Sizes against snapshot.json, no re-hashing. */
  fast?: boolean;
  restoreTest?: boolean;
  /** Creates and drops the scratch database as this role (restore/admin.ts; else DATABASE_URL's or PGUSER's). */
  adminUser?: string;
  /** The age identity file, for --restore-test of an encrypted snapshot (else BACKPLAN_AGE_IDENTITY_FILE). */
  identity?: string;
  signal?: AbortSignal;
}

/** What verification.json holds; `list` shows `verifiedAt`, absent after a failure. */
export interface VerificationRecord extends VerifyReport {
  verifiedAt?: string;
  failedAt?: string;
  /** False after `--fast`: sizes were compared, not content. */
  deep: boolean;
  restoreTest?: RestoreTestResult;
}

/**
 * `backplan verify FILE [SNAPSHOT]`: every artefact and every file of a SHA256SUMS list
 * re-hashed, each mismatch printed; then every chain judged again with what was found.
 * VERIFY_FAILED (exit 1) names each damaged snapshot and broken chain. `latest` is moved to the
 * newest restorable snapshot afterwards, so it never names one this verify found damaged.
 */
export async function verifyFile(file: string, id: string | undefined, o: VerifyCommandOptions, out: Output): Promise<void> {
  const job = await openJob(file);
  // Checksums are of the ciphertext: only a restore test needs the identity.
  if (o.restoreTest) o = { ...o, identity: await identityFile(o.identity) };
  const assessed = await assessJob(job);
  const targets = selectSnapshots(assessed, job.destination, id, o.all ?? false);
  const failed = new Map<string, string>();
  for (const snapshot of targets) {
    if (snapshot.state === 'partial') {
      out.out(`${snapshot.id}  partial  ${snapshot.problem}\n`);
      continue;
    }
    if (!snapshot.record) {
      out.out(`${snapshot.id}  DAMAGED  ${snapshot.problem}\n`);
      failed.set(snapshot.id, snapshot.problem!);
      continue;
    }
    const verification = await verifyOne({ ...job, assessed }, snapshot as AssessedSnapshot & CompleteSnapshot, o, out);
    out.out(verificationLine(snapshot.id, verification));
    // Sizes that match prove less than a re-hash: they never clear an earlier failure.
    if (!o.fast || verification.failedAt) await recordVerification(job.destination, snapshot.id, verification, out);
    if (verification.failedAt) failed.set(snapshot.id, 'a checksum or file does not match');
  }
  const after = await assessJob(job);
  for (const s of after.filter((a) => a.state === 'broken-chain' && targets.some((t) => t.id === a.id))) {
    out.out(`${s.id}  BROKEN CHAIN  ${s.problem}\n`);
    failed.set(s.id, `broken chain: ${s.problem}`);
  }
  await pointLatestAtRestorable(job.destination, after, out);
  if (failed.size > 0) {
    const listed = [...failed].map(([sid, why]) => `${sid} (${why})`).join(', ');
    throw new BackplanError('VERIFY_FAILED', `${failed.size} of ${targets.length} snapshot(s) cannot be restored: ${listed}`, {
      hint: 'restore from a snapshot that verifies (backplan list shows each state); check the destination disk',
    });
  }
}

function selectSnapshots(assessed: AssessedSnapshot[], destination: Destination, id: string | undefined, all: boolean): AssessedSnapshot[] {
  if (id !== undefined && all) throw new BackplanError('USAGE', 'give a snapshot or --all, not both');
  if (!all) return [findIn(assessed, id ?? 'latest', destination)];
  if (assessed.length === 0) throw new BackplanError('SNAPSHOT', `no snapshot of this job at ${destination.spec}`, { hint: 'run a backup first (backplan run)' });
  return assessed;
}

/** `latest` names the newest restorable snapshot of the job, or nothing when none is. */
export async function pointLatestAtRestorable(destination: Destination, assessed: AssessedSnapshot[], out: Output): Promise<void> {
  await destination.pointLatest(newestRestorable(assessed)?.id).catch((e: unknown) => {
    out.err(`warning: could not move ${destination.location('latest')}: ${(e as Error).message}\n`);
  });
}

interface VerifyJob {
  manifest: Manifest;
  destination: Destination;
  assessed: AssessedSnapshot[];
}

async function verifyOne(job: VerifyJob, snapshot: AssessedSnapshot & CompleteSnapshot, o: VerifyCommandOptions, out: Output): Promise<VerificationRecord> {
  const deep = !o.fast;
  const report = await verifySnapshot(job.destination, snapshot.id, { deep, fast: o.fast }).catch((e: unknown) => {
    if (isBackplanError(e)) throw e;
    return { checkedFiles: 0, checkedBytes: 0, problems: [{ path: 'snapshot.json', problem: `cannot be read: ${(e as Error).message}` }] };
  });
  const verification: VerificationRecord = { deep, ...report };
  for (const p of report.problems) out.out(`${snapshot.id}  ${p.path}: ${p.problem}\n`);
  // A broken chain cannot be restored; this verify reports it below.
  if (report.problems.length === 0 && o.restoreTest && snapshot.state !== 'broken-chain') {
    const log = (line: string) => out.err(`restore-test: ${line}\n`);
    // A remote snapshot is copied here for the test, and that copy is verified again.
    const snapshots = await job.destination.fetch(snapshotChain(job.assessed, snapshot), { signal: o.signal, log });
    try {
      const { connection, secrets } = await restoreConnection(job.manifest, snapshots.entries.at(-1)!.dir, process.env, o.identity);
      const { admin, note } = adminRole(connection, o.adminUser);
      if (note) log(`note: ${note}`);
      const verified = snapshots.copied ? [] : [snapshot.id];
      verification.restoreTest = await restoreTest({ snapshots, connection, secrets, admin, verified, log, signal: o.signal, identity: o.identity });
    } finally {
      await snapshots.release();
    }
    for (const problem of verification.restoreTest.problems) out.out(`${snapshot.id}  restore test: ${problem}\n`);
  }
  const ok = report.problems.length === 0 && (verification.restoreTest?.ok ?? true);
  verification[ok ? 'verifiedAt' : 'failedAt'] = new Date().toISOString();
  return verification;
}

function verificationLine(id: string, v: VerificationRecord): string {
  const checked = `${v.checkedFiles} files, ${formatBytes(v.checkedBytes)} checked${v.deep ? '' : ' (sizes only)'}`;
  const test = v.restoreTest;
  const restored = !test ? '' : test.ok ? `; restore test passed (${restoreTestFacts(test)})` : '; restore test FAILED';
  return `${id}  ${v.failedAt ? 'FAILED' : 'ok'}  ${checked}${restored}\n`;
}

function restoreTestFacts(test: RestoreTestResult): string {
  const facts = [];
  if (test.rowCounts) facts.push(`${Object.keys(test.rowCounts).length} table counts match`);
  if (test.repository) facts.push(`${test.repository.restored.files} files match`);
  return facts.join(', ') || 'nothing recorded to compare';
}

/** A read-only destination still verifies; it only cannot remember that it did. */
async function recordVerification(destination: Destination, id: string, verification: VerificationRecord, out: Output): Promise<void> {
  const path = `${id}/${VERIFICATION_FILE}`;
  await destination.writeText(path, JSON.stringify(verification, null, 2) + '\n').catch((e: unknown) => {
    out.err(`warning: could not record the verification in ${destination.location(path)}: ${(e as Error).message}\n`);
  });
}
