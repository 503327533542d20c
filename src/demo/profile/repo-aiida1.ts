/** The AiiDA 1.x repository: a folder per node, whose files may be rewritten while the node is modified. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeFolder } from '../../incremental/layout.js';
import { fillerPool, makeFile } from './data.js';
import type { GeneratedProfile } from './types.js';
import { WRITES_IN_FLIGHT, forEachLimit, mkdirs, writeSmallFile } from './writer.js';
import type { RepositoryWriter } from './writer.js';

/** A node folder keeps its files under `path/`. */
function filesFolder(repositoryPath: string, uuid: string): string {
  return join(repositoryPath, nodeFolder(uuid), 'path');
}

/** An empty 1.x repository. */
export async function initNodeRepository(repositoryPath: string): Promise<void> {
  await mkdir(join(repositoryPath, 'repository', 'node'), { recursive: true });
}

export function nodeFolderWriter(repositoryPath: string): RepositoryWriter {
  return {
    write: (nodes) =>
      forEachLimit(nodes, WRITES_IN_FLIGHT, async (node) => {
        if (!node.files.length) return; // a database-only profile (filesPerNode 0) has no folders
        const folder = filesFolder(repositoryPath, node.uuid);
        await mkdirs(folder);
        for (const f of node.files) await writeSmallFile(join(folder, f.name), f.data);
      }),
  };
}

/** touchNodes on 1.x: a new file-0.txt for each node, as AiiDA writes files before committing the row. */
export async function rewriteFirstFiles(p: GeneratedProfile, rows: { uuid: string; touches: number }[]): Promise<void> {
  const pool = fillerPool(p.seed, p.fileBytes);
  await forEachLimit(rows, WRITES_IN_FLIGHT, async ({ uuid, touches }) => {
    const file = makeFile(pool, uuid, 'file-0.txt', 0, p.fileBytes, ` touch ${touches + 1}`);
    await writeSmallFile(join(filesFolder(p.repositoryPath, uuid), file.name), file.data);
  });
}
