import type { Destination, ArtefactHasher, VerifyReport } from '../destination/types.js';
import { SNAPSHOT_JSON } from './layout.js';
import type { SnapshotRecord } from './snapshot-record.js';

/**
 * Re-hashes every artefact named in snapshot `id`'s snapshot.json, where it lies. With `deep`,
 * each SHA256SUMS list is also followed into its folder and every listed file re-hashed.
 */
export async function verifySnapshot(dest: Destination, id: string, opts: { deep: boolean }): Promise<VerifyReport> {
  const path = `${id}/${SNAPSHOT_JSON}`;
  const text = await dest.readText(path);
  // A plain error: `verify` reports it as this snapshot's problem and goes on with the others.
  if (text === undefined) throw new Error(`no ${dest.location(path)}`);
  return compareArtefacts(JSON.parse(text) as SnapshotRecord, dest.hasher(id), opts);
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
      report.checkedBytes += artefact.covers.bytes;
    }
  }
  return report;
}
