/** Files that survive a crash: written, fsynced, and (for replacements) renamed into place. */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync(2) of a file or a folder (a folder's fsync makes renames in it durable). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a temporary file (mode 0600), fsyncs it, renames it over `path`, fsyncs the folder. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  await fsyncPath(dirname(path));
}
