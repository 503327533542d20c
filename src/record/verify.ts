import type { Destination, ArtefactHasher, VerifyReport } from '../destination/types.js';
import { SNAPSHOT_JSON } from './layout.js';
import type { ArtefactRecord, SnapshotRecord } from './snapshot-record.js';

export interface VerifyOptions {
  /** Also follow each SHA256SUMS list into its folder and re-hash every listed file. */
  deep: boolean;
  /** Compare sizes only, not content (cheap where re-hashing downloads everything). */
  fast?: boolean;
  /** Artefacts not checked here: those a restore streams, hashed as they pass (restore/source.ts). */
  skip?: (artefact: ArtefactRecord) => boolean;
}

/** Re-hashes (or, `fast`, sizes) every artefact named in snapshot `id`'s snapshot.json, where it lies. */
export async function verifySnapshot(dest: Destination, id: string, opts: VerifyOptions): Promise<VerifyReport> {
  const path = `${id}/${SNAPSHOT_JSON}`;
  const text = await dest.readText(path);
  // A plain error: `verify` reports it as this snapshot's problem and goes on with the others.
  if (text === undefined) throw new Error(`no ${dest.location(path)}`);
  return verifyAgainst(dest, id, JSON.parse(text) as SnapshotRecord, opts);
}

/** The same against a record already read (a restore's fetched copy): the artefacts of `id` at `dest`. */
export function verifyAgainst(dest: Destination, id: string, record: SnapshotRecord, opts: VerifyOptions): Promise<VerifyReport> {
  const skip = opts.skip;
  const checked = skip ? { ...record, artefacts: record.artefacts.filter((a) => !skip(a)) } : record;
  return opts.fast ? compareSizes(checked, dest.hasher(id)) : compareArtefacts(checked, dest.hasher(id), opts);
}

async function compareSizes(record: SnapshotRecord, hasher: ArtefactHasher): Promise<VerifyReport> {
  const report: VerifyReport = { checkedFiles: 0, checkedBytes: 0, problems: [] };
  const sizes = hasher.sizes ? await hasher.sizes(record.artefacts) : (await hasher.hash(record.artefacts)).map((a) => a?.bytes);
  for (const [i, artefact] of record.artefacts.entries()) {
    const bytes = sizes[i];
    report.checkedFiles++;
    if (bytes === undefined) report.problems.push({ path: artefact.path, problem: 'missing' });
    else if (bytes !== artefact.bytes) report.problems.push({ path: artefact.path, problem: `size ${bytes} does not match the recorded ${artefact.bytes}` });
    else report.checkedBytes += bytes;
  }
  return report;
}

async function compareArtefacts(record: SnapshotRecord, hasher: ArtefactHasher, opts: VerifyOptions): Promise<VerifyReport> {
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
