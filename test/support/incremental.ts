/** Helpers for the incremental strategy's tests: runs, the chain at the destination, checks against the database. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readlink, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { openDestination } from '../../src/destination/registry.js';
import type { CompleteSnapshot } from '../../src/destination/types.js';
import { applyRepositoryDelta } from '../../src/restore/incremental-delta.js';
import { snapshotChain } from '../../src/record/chain.js';
import { join, relative } from 'node:path';
import { connectTo } from '../../src/demo/cluster.js';
import { generateProfile } from '../../src/demo/profile/index.js';
import type { AiidaLayout, GeneratedProfile } from '../../src/demo/profile/index.js';
import { nodeFolder, objectKeys } from '../../src/incremental/layout.js';
import { incrementalExtra } from '../../src/incremental/record.js';
import type { IncrementalExtra } from '../../src/incremental/record.js';
import { walkFiles } from '../../src/record/checksums.js';
import type { SnapshotRecord } from '../../src/record/snapshot-record.js';
import type { TestDatabase } from './pg.js';
import { cli } from './profile.js';

export interface IncrementalProfile {
  dir: string;
  profile: GeneratedProfile;
  manifest: string;
  destination: string;
}

/** A generated profile and a manifest backing it up with the incremental strategy. */
export async function incrementalProfile(
  db: TestDatabase,
  opts: { layout: AiidaLayout; nodes: number; packed?: boolean; incremental?: string; historyDays?: number },
): Promise<IncrementalProfile> {
  const dir = await mkdtemp(join(tmpdir(), 'backplan-incr-'));
  const profile = await generateProfile({
    dir,
    server: db.server,
    database: db.name,
    layout: opts.layout,
    nodes: opts.nodes,
    packed: opts.packed,
    historyDays: opts.historyDays,
  });
  const destination = join(dir, 'backups');
  const manifest = join(dir, 'manifest.yaml');
  await writeFile(
    manifest,
    [
      'version: 1',
      'name: incr-test',
      'profile:',
      `  aiida: { config: ${JSON.stringify(profile.configPath)}, profile: ${JSON.stringify(profile.profileName)} }`,
      `destination: ${JSON.stringify(destination)}`,
      'repository:',
      '  strategy: incremental',
      `  incremental: { ${opts.incremental ?? 'margin: 1m'} }`,
    ].join('\n') + '\n',
  );
  return { dir, profile, manifest, destination };
}

export interface Snapshot {
  id: string;
  dir: string;
  record: SnapshotRecord;
  extra: IncrementalExtra;
}

/** One `backplan run` that must succeed; returns the snapshot it published. */
export async function runSnapshot(p: IncrementalProfile): Promise<Snapshot> {
  // Snapshot ids have one-second resolution: never two runs in the same second.
  await new Promise((r) => setTimeout(r, 1100));
  const result = await cli(['run', p.manifest]);
  expect(result.code, result.stderr).to.equal(0);
  const id = await readlink(join(p.destination, 'latest'));
  const dir = join(p.destination, id);
  const record = JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8')) as SnapshotRecord;
  return { id, dir, record, extra: incrementalExtra(record)! };
}

/** Member names of a snapshot's tar.zst artefact, folders left out (a delta carries the folders above its nodes). */
export function archiveMembers(file: string): string[] {
  return execFileSync('sh', ['-c', 'zstd -dc -- "$1" | tar -t', 'sh', file], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter((n) => n !== '' && !n.endsWith('/'))
    .map((n) => n.replace(/^\.\//, ''));
}

/**
 * Every file of every node the database holds is in `restored`, with the content the source
 * repository has (1.x: the node's folder; 2.x: each object named in repository_metadata, found
 * loose or through packs.idx, hashing to its key). Returns how many files were checked.
 */
export async function expectRestoredMatchesDatabase(db: TestDatabase, p: IncrementalProfile, restored: string): Promise<number> {
  const client = await connectTo(db.server, db.name);
  try {
    if (p.profile.layout === 'aiida-1') {
      const { rows } = await client.query<{ uuid: string }>('SELECT uuid::text AS uuid FROM db_dbnode');
      let files = 0;
      for (const { uuid } of rows) {
        const folder = join(p.profile.repositoryPath, nodeFolder(uuid));
        for await (const path of walkFiles(folder)) {
          const rel = relative(p.profile.repositoryPath, path.toString());
          const copy = await readFile(join(restored, rel)).catch(() => undefined);
          expect(copy, `${rel} of node ${uuid}`).to.not.equal(undefined);
          expect(copy!.equals(await readFile(path)), `${rel} content`).to.equal(true);
          files++;
        }
      }
      expect(files).to.be.greaterThan(0);
      return files;
    }
    const { rows } = await client.query<{ uuid: string; repository_metadata: unknown }>('SELECT uuid::text AS uuid, repository_metadata FROM db_dbnode');
    const read = await objectReader(join(restored, 'container'));
    let objects = 0;
    for (const row of rows) {
      for (const key of objectKeys(row.repository_metadata)) {
        const data = await read(key);
        expect(data, `object ${key} of node ${row.uuid}`).to.not.equal(undefined);
        expect(createHash('sha256').update(data!).digest('hex'), `object ${key} content`).to.equal(key);
        objects++;
      }
    }
    expect(objects).to.be.greaterThan(0);
    return objects;
  } finally {
    await client.end();
  }
}

/** Reads objects of a restored container: loose first, else through packs.idx (uncompressed packs). */
async function objectReader(container: string): Promise<(key: string) => Promise<Buffer | undefined>> {
  const rows = indexRows(container);
  const byKey = new Map(rows.map((r) => [r.hashkey, r]));
  return async (key) => {
    const loose = await readFile(join(container, 'loose', key.slice(0, 2), key.slice(2))).catch(() => undefined);
    if (loose) return loose;
    const row = byKey.get(key);
    if (!row) return undefined;
    const file = await open(join(container, 'packs', String(row.pack_id)));
    try {
      const buffer = Buffer.alloc(row.length);
      const { bytesRead } = await file.read(buffer, 0, row.length, row.offset);
      return bytesRead === row.length ? buffer : undefined;
    } finally {
      await file.close();
    }
  };
}

export interface IndexRow {
  id: number;
  hashkey: string;
  offset: number;
  length: number;
  pack_id: number;
}

export function indexRows(container: string): IndexRow[] {
  const out = execFileSync('sqlite3', ['-json', join(container, 'packs.idx'), 'SELECT id, hashkey, "offset", length, pack_id FROM db_object ORDER BY id'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return out.trim() ? (JSON.parse(out) as IndexRow[]) : [];
}

/**
 * Restores only the repository of `snapshotId`: its full base, then every incremental up to it,
 * oldest first, through the same applier `restore` uses.
 */
export async function restoreChain(destination: string, snapshotId: string, targetRepo: string): Promise<CompleteSnapshot[]> {
  const entries = await openDestination(destination).list();
  const wanted = entries.find((e) => e.id === snapshotId);
  if (!wanted?.record) throw new Error(`no complete snapshot ${snapshotId} at ${destination}`);
  const chain = snapshotChain(entries, wanted as CompleteSnapshot);
  for (const entry of chain) await applyRepositoryDelta(entry.dir, entry.record, targetRepo);
  return chain;
}
