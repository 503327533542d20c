/** Removing a folder tree that may hold hundreds of thousands of files (a restore, a snapshot). */
import { run } from './subprocess.js';

/**
 * `rm -rf -- path`: GNU rm takes seconds where fs.rm's recursion in JS takes minutes (200k files
 * of a restored repository). A missing path is fine.
 */
export async function removeTree(path: string, signal?: AbortSignal): Promise<void> {
  await run(['rm', '-rf', '--', path], { stdout: 'ignore', signal });
}
