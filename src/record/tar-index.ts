import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Regular files and their bytes from GNU tar's `-vv --index-file` listing
 * (`-rw-r--r-- user/group SIZE date time name`): what an archive holds, counted while tar wrote
 * it, for snapshot.json and restore tests.
 */
export async function countTarIndex(path: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (!line.startsWith('-')) continue;
    files++;
    bytes += Number(line.split(/\s+/, 3)[2] ?? 0);
  }
  return { files, bytes };
}
