/**
 * A published snapshot re-hashed by streaming it from the remote (`rclone hashsum sha256
 * --download`: object stores do not keep sha256 themselves), once per verify, for its artefacts
 * and its SHA256SUMS lists alike.
 */
import { posix } from 'node:path';
import { parseSumsLine } from '../../record/checksums.js';
import type { ArtefactHasher, VerifyReport } from '../types.js';
import type { Rclone } from './remote.js';

interface Found {
  sha256?: string;
  bytes: number;
}

export function rcloneHasher(rclone: Rclone, id: string): ArtefactHasher {
  let files: Promise<Map<string, Found>> | undefined;
  const hashed = () => (files ??= hashAll(rclone, id));
  return {
    hash: async (artefacts) => {
      const found = await hashed();
      return artefacts.map((a) => {
        const f = found.get(a.path);
        return f?.sha256 === undefined ? undefined : { sha256: f.sha256, bytes: f.bytes };
      });
    },
    sizes: async (artefacts) => {
      const listed = new Map((await rclone.list(id, { depth: 100, filesOnly: true })).map((o) => [o.Path, o.Size]));
      return artefacts.map((a) => listed.get(a.path));
    },
    checkList: async (listPath, report) => checkList(rclone, id, listPath, await hashed(), report),
  };
}

async function hashAll(rclone: Rclone, id: string): Promise<Map<string, Found>> {
  const found = new Map<string, Found>();
  for (const o of await rclone.list(id, { depth: 100, filesOnly: true })) found.set(o.Path, { bytes: o.Size });
  if (found.size === 0) return found;
  const { stdout } = await rclone.run(['hashsum', 'sha256', '--download', rclone.target(id)]);
  for (const line of stdout.split('\n')) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    const f = m && found.get(m[2]!);
    if (f) f.sha256 = m[1]!;
  }
  return found;
}

async function checkList(rclone: Rclone, id: string, listPath: string, found: Map<string, Found>, report: VerifyReport): Promise<void> {
  const { stdout } = await rclone.run(['cat', rclone.target(posix.join(id, listPath))]);
  for (const line of stdout.split('\n')) {
    const entry = parseSumsLine(line);
    if (!entry) continue;
    const actual = found.get(entry.path);
    report.checkedFiles++;
    if (actual?.sha256 === undefined) report.problems.push({ path: entry.path, problem: 'missing' });
    else if (actual.sha256 !== entry.sha256) report.problems.push({ path: entry.path, problem: `sha256 does not match ${listPath}` });
  }
}
