import { join } from 'node:path';
import { BackplanError, isBackplanError } from '../errors.js';
import { listSnapshots, VERIFICATION_FILE } from '../record/destination.js';
import { writeJsonSynced } from '../record/publish.js';
import { verifySnapshotDir } from '../record/verify.js';
import type { VerifyReport } from '../record/verify.js';
import type { CompleteSnapshot } from '../restore/chain.js';
import { restoreConnection } from '../restore/connection.js';
import { restoreTest } from '../restore/restore-test.js';
import type { RestoreTestResult } from '../restore/restore-test.js';
import { formatBytes } from '../util/bytes.js';
import { completeSnapshot, manifestDestination } from './restore.js';
import { localSnapshots } from '../restore/fetch.js';
import { remoteDestination } from '../util/destination.js';
import { manifestOf } from './manage.js';
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
  const manifest = await manifestOf(file);
  const destination = manifestDestination(manifest.destination);
  const snapshots = await selectSnapshots(destination, id, o.all ?? false);
  const failed: string[] = [];
  for (const snapshot of snapshots) {
    const verification = await verifySnapshot(destination, snapshot, o, out, () => restoreConnection(manifest, snapshot.dir));
    out.out(verificationLine(snapshot.id, verification));
    await recordVerification(snapshot.dir, verification, out);
    if (verification.failedAt) failed.push(snapshot.id);
  }
  if (failed.length > 0) {
    throw new BackplanError('VERIFY_FAILED', `${failed.length} of ${snapshots.length} snapshot(s) failed verification: ${failed.join(', ')}`, {
      hint: 'restore from a snapshot that verifies; check the destination disk',
    });
  }
}

async function selectSnapshots(destination: string, id: string | undefined, all: boolean): Promise<CompleteSnapshot[]> {
  if (id !== undefined && all) throw new BackplanError('USAGE', 'give a snapshot or --all, not both');
  if (!all) return [await completeSnapshot(destination, id ?? 'latest')];
  const complete = (await listSnapshots(destination)).filter((e): e is CompleteSnapshot => e.complete && e.record !== undefined);
  if (complete.length === 0) throw new BackplanError('SNAPSHOT', `no complete snapshot at ${destination}`, { hint: 'run a backup first (backplan run)' });
  return complete;
}

async function verifySnapshot(
  destination: string,
  snapshot: CompleteSnapshot,
  o: VerifyCommandOptions,
  out: Output,
  connection: () => ReturnType<typeof restoreConnection>,
): Promise<VerificationRecord> {
  const report = await verifySnapshotDir(snapshot.dir, { deep: true }).catch((e: unknown) => {
    if (isBackplanError(e)) throw e;
    return { checkedFiles: 0, checkedBytes: 0, problems: [{ path: 'snapshot.json', problem: `cannot be read: ${(e as Error).message}` }] };
  });
  const verification: VerificationRecord = { deep: true, ...report };
  for (const p of report.problems) out.out(`${snapshot.id}  ${p.path}: ${p.problem}\n`);
  if (report.problems.length === 0 && o.restoreTest) {
    const { connection: server, secrets } = await connection();
    const log = (line: string) => out.err(`restore-test: ${line}\n`);
    // A remote snapshot is copied here for the test, and that copy is verified again.
    const local = await localSnapshots(destination, await listSnapshots(destination), snapshot, { signal: o.signal, log });
    const verified = remoteDestination(destination) ? [] : [snapshot.id];
    try {
      verification.restoreTest = await restoreTest({ ...local, connection: server, secrets, verified, log, signal: o.signal });
    } finally {
      await local.release();
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
async function recordVerification(dir: string, verification: VerificationRecord, out: Output): Promise<void> {
  await writeJsonSynced(join(dir, VERIFICATION_FILE), verification).catch((e: unknown) => {
    out.err(`warning: could not record the verification in ${join(dir, VERIFICATION_FILE)}: ${(e as Error).message}\n`);
  });
}
