/** More manifests for a generated profile: other destinations, hooks, retention. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProfile } from './profile.js';

/**
 * Writes `<profile dir>/<file>` backing up the same profile as `p.manifest`, to `destination`
 * (default the profile's), with `extra` YAML appended.
 */
export async function writeManifest(p: TestProfile, file: string, extra: string, opts: { destination?: string; name?: string } = {}): Promise<string> {
  const path = join(p.dir, file);
  await writeFile(
    path,
    [
      'version: 1',
      `name: ${opts.name ?? 'test-job'}`,
      'profile:',
      `  aiida: { config: ${JSON.stringify(p.profile.configPath)}, profile: ${JSON.stringify(p.profile.profileName)} }`,
      `destination: ${JSON.stringify(opts.destination ?? p.destination)}`,
      extra,
    ].join('\n') + '\n',
  );
  return path;
}
