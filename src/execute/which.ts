/** Finding a command as execvp would. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What execvp would run for `name`: itself if it names a path, else the first executable on PATH. */
export function resolveCommand(name: string, path: string | undefined): string | undefined {
  if (name.includes('/')) return name;
  for (const dir of (path ?? '').split(delimiter)) {
    const candidate = join(dir || '.', name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
