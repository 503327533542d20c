import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed package's root: the nearest folder above this module holding package.json.
 * Walked up rather than a fixed `../..`: the same code runs from dist/src/ (the library) and
 * from the bundled CLI's chunks in dist/bin/ (scripts/bundle.ts).
 */
export const PACKAGE_ROOT = ((): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
  }
})();

/** backplan's own version, from its package.json. */
export const TOOL_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
