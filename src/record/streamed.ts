/**
 * Which artefacts a restore from a remote destination streams rather than copies: the large
 * files (repository archives, incremental pack pieces, a dump file). The small ones (snapshot.json,
 * configuration, roles, SHA256SUMS lists, an incremental index) and folder artefacts (an rsync
 * repository/, a directory dump) are still copied first. Shared by the destinations (what their
 * fetch leaves out) and restore (what it streams).
 */
import type { ArtefactRecord } from './snapshot-record.js';

/** A repository archive: a full's or an incremental's delta, compressed or not, sealed or not. */
export const REPOSITORY_ARCHIVE = /^repository(-delta)?\.tar(\.zst|\.gz)?(\.age)?$/;

const STREAMED = [
  REPOSITORY_ARCHIVE,
  /^packs\/\d+@\d+\.zst(\.age)?$/,
  /^database\.dump(\.zst)?(\.age)?$/,
  /^database\.sql(\.zst|\.gz)?(\.age)?$/,
];

export function isStreamedArtefact(artefact: ArtefactRecord): boolean {
  return artefact.covers === undefined && STREAMED.some((re) => re.test(artefact.path));
}

/** The streamed artefacts of a snapshot, by path relative to its folder. */
export function streamedArtefacts(artefacts: ArtefactRecord[]): ArtefactRecord[] {
  return artefacts.filter(isStreamedArtefact);
}
