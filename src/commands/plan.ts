import { BackplanErrors } from '../errors.js';
import { readManifest } from '../load/read-manifest.js';
import type { ManifestSource } from '../load/read-manifest.js';
import type { Manifest } from '../manifest.js';
import { makePlan } from '../plan/make-plan.js';
import { probeFacts } from '../plan/probe.js';
import { offlineFacts, offlineResolution } from '../plan/offline.js';
import type { Plan } from '../plan/types.js';
import { resolveProfile } from '../resolve/resolve.js';
import type { Resolution } from '../resolve/types.js';

export interface PlannedRun {
  source: ManifestSource & { manifest: Manifest };
  resolution: Resolution;
  plan: Plan;
}

/**
 * load → validate → resolve → plan, throwing every manifest mistake at once. `estimate` asks the
 * database what an incremental would copy (for printed plans; a run finds out by copying).
 */
export async function planFile(
  file: string,
  opts: { waitLockMs?: number; env?: NodeJS.ProcessEnv; now?: Date; estimate?: boolean; offline?: boolean } = {},
): Promise<PlannedRun> {
  const env = opts.env ?? process.env;
  const source = await readManifest(file, env);
  if (source.errors.length > 0 || !source.manifest) throw new BackplanErrors(source.errors);
  const valid = source as ManifestSource & { manifest: Manifest };
  if (opts.offline) {
    const resolution = offlineResolution(valid.manifest);
    return { source: valid, resolution, plan: makePlan({ source: valid, resolution, facts: offlineFacts(opts.now) }) };
  }
  const resolution = await resolveProfile(valid.manifest, { positionOf: source.positionOf, env });
  const estimate = opts.estimate === true && valid.manifest.repository?.strategy === 'incremental';
  const facts = await probeFacts(valid.manifest.destination, resolution, opts.now, { estimate });
  const plan = makePlan({ source: valid, resolution, facts, waitLockMs: opts.waitLockMs });
  return { source: valid, resolution, plan };
}
