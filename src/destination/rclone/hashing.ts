/**
 * A published snapshot re-hashed by streaming it from the remote through the daemon (object
 * stores do not keep sha256 themselves), once per verify, for its artefacts and its SHA256SUMS
 * lists alike.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parseSumsLine } from '../../record/checksums.js';
import { mapLimited } from '../../util/limited.js';
import type { ArtefactHasher, VerifyReport } from '../types.js';
import type { Rclone } from './remote.js';

/** Downloads at once, as `rclone hashsum --download` checks a few files at a time. */
const PARALLEL = 4;

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
      const listed = new Map((await rclone.list(id, { depth: Infinity, filesOnly: true })).map((o) => [o.Path, o.Size]));
      return artefacts.map((a) => listed.get(a.path));
    },
    checkList: async (listPath, report) => checkList(rclone, id, listPath, await hashed(), report),
  };
}

async function hashAll(rclone: Rclone, id: string): Promise<Map<string, Found>> {
  const found = new Map<string, Found>();
  for (const o of await rclone.list(id, { depth: Infinity, filesOnly: true })) found.set(o.Path, { bytes: o.Size });
  await mapLimited([...found], PARALLEL, async ([path, f]) => {
    const response = await rclone.read(posix.join(id, path));
    if (!response?.body) return;
    const hash = createHash('sha256');
    for await (const chunk of response.body) hash.update(chunk);
    f.sha256 = hash.digest('hex');
  });
  return found;
}

async function checkList(rclone: Rclone, id: string, listPath: string, found: Map<string, Found>, report: VerifyReport): Promise<void> {
  const text = await (await rclone.read(posix.join(id, listPath)))?.text();
  if (text === undefined) return void report.problems.push({ path: listPath, problem: 'missing' });
  for (const line of text.split('\n')) {
    const entry = parseSumsLine(line);
    if (!entry) continue;
    const actual = found.get(entry.path);
    report.checkedFiles++;
    if (actual?.sha256 === undefined) report.problems.push({ path: entry.path, problem: 'missing' });
    else if (actual.sha256 !== entry.sha256) report.problems.push({ path: entry.path, problem: `sha256 does not match ${listPath}` });
  }
}
