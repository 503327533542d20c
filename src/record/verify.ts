import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SNAPSHOT_JSON } from './layout.js';
import { parseSumsLine, sha256File } from './checksums.js';
import type { SnapshotRecord } from './snapshot-record.js';
import { readRemoteRecord, verifyRemoteSnapshot } from './remote/destination.js';
import { remoteDestination } from '../util/destination.js';

export interface VerifyProblem {
  path: string;
  problem: string;
}

export interface VerifyReport {
  checkedFiles: number;
  checkedBytes: number;
  problems: VerifyProblem[];
}

/**
 * Re-hashes every artefact named in snapshot.json. With `deep`, each SHA256SUMS list is also
 * followed into its folder and every listed file re-hashed.
 */
export async function verifySnapshotDir(dir: string, opts: { deep: boolean }): Promise<VerifyReport> {
  const remote = remoteDestination(dir);
  if (remote) return verifyRemoteSnapshot(remote, JSON.parse(await readRemoteRecord(remote, SNAPSHOT_JSON)) as SnapshotRecord, opts);
  const record = JSON.parse(await readFile(join(dir, SNAPSHOT_JSON), 'utf8')) as SnapshotRecord;
  const report: VerifyReport = { checkedFiles: 0, checkedBytes: 0, problems: [] };
  for (const artefact of record.artefacts) {
    const actual = await sha256File(join(dir, artefact.path)).catch(() => undefined);
    report.checkedFiles++;
    if (!actual) {
      report.problems.push({ path: artefact.path, problem: 'missing' });
      continue;
    }
    report.checkedBytes += actual.bytes;
    if (actual.sha256 !== artefact.sha256) {
      report.problems.push({ path: artefact.path, problem: `sha256 ${actual.sha256} does not match the recorded ${artefact.sha256}` });
    } else if (opts.deep && artefact.covers) {
      await verifyList(dir, artefact.path, report);
    }
  }
  return report;
}

async function verifyList(dir: string, listPath: string, report: VerifyReport): Promise<void> {
  for await (const line of createInterface({ input: createReadStream(join(dir, listPath)), crlfDelay: Infinity })) {
    const entry = parseSumsLine(line);
    if (!entry) continue;
    const actual = await sha256File(join(dir, entry.path)).catch(() => undefined);
    report.checkedFiles++;
    if (!actual) report.problems.push({ path: entry.path, problem: 'missing' });
    else {
      report.checkedBytes += actual.bytes;
      if (actual.sha256 !== entry.sha256) report.problems.push({ path: entry.path, problem: `sha256 does not match ${listPath}` });
    }
  }
}
