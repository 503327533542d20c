import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SNAPSHOT_JSON } from './layout.js';
import { parseSumsLine, sha256File } from './checksums.js';
import type { ArtefactRecord, SnapshotRecord } from './snapshot-record.js';
import { remoteHasher } from './remote/destination.js';
import { readText } from './files.js';
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

/** Where an artefact is hashed is the destination's business; comparing is shared. */
export interface ArtefactHasher {
  /** sha256 and size of each artefact, in order; undefined for a missing one. */
  hash(artefacts: ArtefactRecord[]): Promise<({ sha256: string; bytes: number } | undefined)[]>;
  /** Follows a SHA256SUMS list into its folder, adding what it finds to the report. */
  checkList(listPath: string, report: VerifyReport): Promise<void>;
}

/**
 * Re-hashes every artefact named in snapshot.json. With `deep`, each SHA256SUMS list is also
 * followed into its folder and every listed file re-hashed.
 */
export async function verifySnapshotDir(dir: string, opts: { deep: boolean }): Promise<VerifyReport> {
  const path = join(dir, SNAPSHOT_JSON);
  const text = await readText(path);
  if (text === undefined) throw new Error(`no ${path}`);
  const record = JSON.parse(text) as SnapshotRecord;
  const remote = remoteDestination(dir);
  return compareArtefacts(record, remote ? remoteHasher(remote) : localHasher(dir), opts);
}

function localHasher(dir: string): ArtefactHasher {
  return {
    hash: async (artefacts) => {
      const sums = [];
      for (const artefact of artefacts) sums.push(await sha256File(join(dir, artefact.path)).catch(() => undefined));
      return sums;
    },
    checkList: (listPath, report) => verifyList(dir, listPath, report),
  };
}

async function compareArtefacts(record: SnapshotRecord, hasher: ArtefactHasher, opts: { deep: boolean }): Promise<VerifyReport> {
  const report: VerifyReport = { checkedFiles: 0, checkedBytes: 0, problems: [] };
  const actuals = await hasher.hash(record.artefacts);
  for (const [i, artefact] of record.artefacts.entries()) {
    const actual = actuals[i];
    report.checkedFiles++;
    if (!actual) {
      report.problems.push({ path: artefact.path, problem: 'missing' });
      continue;
    }
    report.checkedBytes += actual.bytes;
    if (actual.sha256 !== artefact.sha256) {
      report.problems.push({ path: artefact.path, problem: `sha256 ${actual.sha256} does not match the recorded ${artefact.sha256}` });
    } else if (opts.deep && artefact.covers) {
      await hasher.checkList(artefact.path, report);
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
