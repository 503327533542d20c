import { BackplanError, isBackplanError } from '../errors.js';
import { VERIFICATION_FILE } from '../destination/listing.js';
import type { CompleteSnapshot, Destination, SnapshotEntry } from '../destination/types.js';
import { snapshotChain } from '../record/chain.js';
import { verifySnapshot } from '../record/verify.js';
import type { VerifyReport } from '../destination/types.js';
import { restoreConnection } from '../restore/connection.js';
import { restoreTest } from '../restore/restore-test.js';
import type { RestoreTestResult } from '../restore/restore-test.js';
import { formatBytes } from '../util/bytes.js';
import type { Manifest } from '../manifest.js';
import { completeIn } from './restore.js';
import { openJob } from './manage.js';
import type { Output } from './output.js';

export interface VerifyCommandOptions {
  all?: boolean;
  restoreTest?: boolean;
  signal?: AbortSignal;
}

/** What verification.json holds; `list` shows `verifiedAt`, absent after a failure. */
export interface VerificationRecord extends VerifyReport {
  verifiedAt?: string;
  failedAt?: string;
  deep: true;
  restoreTest?: RestoreTestResult;
}

/**
 * `backplan verify FILE [SNAPSHOT]`: every artefact and every file of a SHA256SUMS list
 * re-hashed, each mismatch printed; VERIFY_FAILED (exit 1) naming the failed snapshots.
 */
export async function verifyFile(file: string, id: string | undefined, o: VerifyCommandOptions, out: Output): Promise<void> {
  const { manifest, destination } = await openJob(file);
  const entries = await destination.list();
  const snapshots = selectSnapshots(entries, destination, id, o.all ?? false);
  const failed: string[] = [];
  for (const snapshot of snapshots) {
    const verification = await verifyOne({ manifest, destination, entries }, snapshot, o, out);
    out.out(verificationLine(snapshot.id, verification));
    await recordVerification(destination, snapshot.id, verification, out);
    if (verification.failedAt) failed.push(snapshot.id);
  }
  if (failed.length > 0) {
    throw new BackplanError('VERIFY_FAILED', `${failed.length} of ${snapshots.length} snapshot(s) failed verification: ${failed.join(', ')}`, {
      hint: 'restore from a snapshot that verifies; check the destination disk',
    });
  }
}

function selectSnapshots(entries: SnapshotEntry[], destination: Destination, id: string | undefined, all: boolean): CompleteSnapshot[] {
  if (id !== undefined && all) throw new BackplanError('USAGE', 'give a snapshot or --all, not both');
  if (!all) return [completeIn(entries, id ?? 'latest', destination)];
  const complete = entries.filter((e): e is CompleteSnapshot => e.complete && e.record !== undefined);
  if (complete.length === 0) throw new BackplanError('SNAPSHOT', `no complete snapshot at ${destination.spec}`, { hint: 'run a backup first (backplan run)' });
  return complete;
}

interface VerifyJob {
  manifest: Manifest;
  destination: Destination;
  entries: SnapshotEntry[];
}

async function verifyOne(job: VerifyJob, snapshot: CompleteSnapshot, o: VerifyCommandOptions, out: Output): Promise<VerificationRecord> {
  const report = await verifySnapshot(job.destination, snapshot.id, { deep: true }).catch((e: unknown) => {
    if (isBackplanError(e)) throw e;
    return { checkedFiles: 0, checkedBytes: 0, problems: [{ path: 'snapshot.json', problem: `cannot be read: ${(e as Error).message}` }] };
  });
  const verification: VerificationRecord = { deep: true, ...report };
  for (const p of report.problems) out.out(`${snapshot.id}  ${p.path}: ${p.problem}\n`);
  if (report.problems.length === 0 && o.restoreTest) {
    const log = (line: string) => out.err(`restore-test: ${line}\n`);
    // A remote snapshot is copied here for the test, and that copy is verified again.
    const snapshots = await job.destination.fetch(snapshotChain(job.entries, snapshot), { signal: o.signal, log });
    try {
      const { connection, secrets } = await restoreConnection(job.manifest, snapshots.entries.at(-1)!.dir);
      const verified = snapshots.copied ? [] : [snapshot.id];
      verification.restoreTest = await restoreTest({ snapshots, connection, secrets, verified, log, signal: o.signal });
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
  const checked = `${v.checkedFiles} files, ${formatBytes(v.checkedBytes)} checked`;
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
