import path from 'node:path';
import { expandPath, statOf } from './paths.js';

/** Where AiiDA keeps config.json inside a folder: an AIIDA_PATH entry first, a `.aiida` folder second. */
const CONFIG_IN_FOLDER = ['.aiida/config.json', 'config.json'];

/** The config.json a location names: the file itself, or one found inside the folder. */
async function configAt(location: string): Promise<string | undefined> {
  const st = await statOf(location);
  if (st?.isFile()) return location;
  if (!st?.isDirectory()) return undefined;
  for (const rel of CONFIG_IN_FOLDER) {
    const candidate = path.join(location, rel);
    if ((await statOf(candidate))?.isFile()) return candidate;
  }
  return undefined;
}

/**
 * The locations a manifest's `config` string may mean, in order. `${AIIDA_PATH:-~}/.aiida/config.json`
 * with a colon-separated AIIDA_PATH expands to `/a:/b/.aiida/config.json`, so each entry gets the
 * last one's `.aiida/…` suffix. Empty entries are skipped, as AiiDA itself skips them.
 */
export function candidateLocations(raw: string, env: NodeJS.ProcessEnv): string[] {
  const whole = expandPath(raw, env);
  if (!raw.includes(':')) return [whole];
  const pieces = raw.split(':');
  const last = pieces.pop()!;
  const cut = last.indexOf('/.aiida/');
  const dirs = cut < 0 ? [...pieces, last] : [...pieces, last.slice(0, cut)];
  const suffix = cut < 0 ? '' : last.slice(cut + 1);
  const listed = dirs.filter((d) => d !== '').map((d) => path.join(expandPath(d, env), suffix));
  return [whole, ...listed];
}

/** The first existing config.json among the candidates, and every location tried (for errors). */
export async function locateAiidaConfig(
  raw: string,
  env: NodeJS.ProcessEnv,
): Promise<{ found?: string; tried: string[] }> {
  const tried = candidateLocations(raw, env);
  for (const location of tried) {
    const found = await configAt(location);
    if (found) return { found, tried };
  }
  return { tried };
}
