/**
 * `verify --restore-test`: a checksum proves the bytes are the ones written, not that they
 * restore. This restores into a scratch database and folder, compares what came back with what
 * the snapshot recorded (row counts; repository files and bytes), and drops the scratch copies,
 * whatever happened. With an administrative role (admin.ts), that role creates, counts and drops
 * the scratch database.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineSink } from '../util/lines.js';
import { removeTree } from '../execute/remove-tree.js';
import { run } from '../execute/subprocess.js';
import type { LocalSnapshots } from '../destination/types.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import { LARGE_OBJECTS, qualifiedKey } from '../db/row-counts.js';
import { adminSecrets, asAdmin } from './admin.js';
import type { AdminRole } from './admin.js';
import { countRows, restoreEnv, runDbCommand } from './database.js';
import { INCREMENTAL } from './repository.js';
import { checkRestoreSources, executeRestore, prepareRestore } from './restore.js';
import type { Log } from './restore.js';

export interface RestoreTestResult {
  ok: boolean;
  durationMs: number;
  /** Recorded and restored row count per table (null: the table did not come back). */
  rowCounts?: Record<string, { recorded: number; restored: number | null }>;
  repository?: { recorded: FileCount; restored: FileCount };
  problems: string[];
}

export interface FileCount {
  files: number;
  bytes: number;
}

export interface RestoreTestInput {
  /** The snapshot's chain, readable here. */
  snapshots: LocalSnapshots;
  connection: DatabaseConnection;
  secrets: Secrets;
  admin?: AdminRole;
  /** Snapshot ids whose checksums were just checked: not hashed again. */
  verified: string[];
  /** The age identity file, for an encrypted snapshot. */
  identity?: string;
  log: Log;
  signal?: AbortSignal;
}

export async function restoreTest(input: RestoreTestInput): Promise<RestoreTestResult> {
  const started = Date.now();
  const scratchDir = await mkdtemp(join(tmpdir(), 'backplan-verify-'));
  const scratchDb = `backplan_verify_${randomBytes(6).toString('hex')}`;
  const { connection, secrets, admin, log } = input;
  const [runAs, runSecrets] = [asAdmin(connection, admin), adminSecrets(secrets, admin)];
  try {
    const request = { chain: input.snapshots.entries, connection, secrets, admin, targetDir: scratchDir, database: scratchDb, noOwner: false, noPrivileges: false, createRoles: false, jobs: 1, force: false, identity: input.identity, remote: input.snapshots.remote };
    const plan = await prepareRestore(request);
    for (const note of plan.notes) log(`note: ${note}`);
    await checkRestoreSources(plan, input.snapshots.local, log, { signal: input.signal, verified: input.verified, streamedFrom: input.snapshots.remote });
    await executeRestore(plan, runSecrets, log, input.signal);
    const result = await compare(input, plan.database && { connection: runAs, secrets: runSecrets, name: scratchDb }, plan.repository?.target);
    return { ...result, durationMs: Date.now() - started };
  } finally {
    log(`dropping the scratch database ${scratchDb} and ${scratchDir}`);
    const drop = { stages: [['dropdb', '--no-password', '--if-exists', '--', scratchDb]] };
    // A failed drop must not hide how the test went; it is reported for the operator instead.
    await runDbCommand(drop, restoreEnv(runAs, 'postgres', runSecrets)).catch((e: unknown) => log(`could not drop ${scratchDb}, drop it by hand: ${(e as Error).message}`));
    await removeTree(scratchDir);
  }
}

interface ScratchDatabase {
  connection: DatabaseConnection;
  secrets: Secrets;
  name: string;
}

async function compare(input: RestoreTestInput, database: ScratchDatabase | undefined, repository: string | undefined): Promise<Omit<RestoreTestResult, 'durationMs'>> {
  const problems: string[] = [];
  const record = input.snapshots.entries.at(-1)!.record;
  const result: Omit<RestoreTestResult, 'durationMs'> = { ok: true, problems };
  const recordedCounts = record.database?.rowCounts ?? {};
  if (database) {
    const restored = await countRows(database.connection, database.secrets, database.name);
    result.rowCounts = {};
    for (const [key, recorded] of Object.entries(recordedCounts)) {
      const back = restored[qualifiedKey(key)] ?? null;
      result.rowCounts[key] = { recorded, restored: back };
      if (back !== recorded) problems.push(`${key === LARGE_OBJECTS ? key : `table ${key}`}: ${recorded} recorded, ${back ?? 'no table'} restored`);
    }
  }
  const files = record.repository?.files;
  // The incremental strategy records each snapshot's own share, not the restored whole.
  if (repository && files !== undefined && record.repository?.strategy !== INCREMENTAL) {
    const recorded = { files, bytes: record.repository?.bytes ?? 0 };
    const restored = await countFiles(repository);
    result.repository = { recorded, restored };
    if (restored.files !== recorded.files || restored.bytes !== recorded.bytes) {
      problems.push(`repository: ${recorded.files} files (${recorded.bytes} bytes) recorded, ${restored.files} files (${restored.bytes} bytes) restored`);
    }
  }
  result.ok = problems.length === 0;
  return result;
}

/**
 * Regular files as tar counts them: a hard-linked file once, however many names it has. GNU find
 * lists them (`LINKS INODE SIZE` per file): an lstat per file from node took a minute on 200k.
 */
async function countFiles(root: string): Promise<FileCount> {
  const count = { files: 0, bytes: 0 };
  const linked = new Set<string>();
  const onLine = (line: string) => {
    const [links, inode, size] = line.split(' ');
    if (Number(links) > 1) {
      if (linked.has(inode!)) return;
      linked.add(inode!);
    }
    count.files++;
    count.bytes += Number(size);
  };
  await run(['find', root, '-type', 'f', '-printf', '%n %i %s\\n'], { stdout: lineSink(onLine) });
  return count;
}
