import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** `~` and `~/…` mean the home folder, as in a shell; anything else is taken from the cwd. */
export function expandPath(p: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || os.homedir();
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.resolve(home, p.slice(2));
  return path.resolve(p);
}

export async function statOf(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch {
    return undefined;
  }
}
