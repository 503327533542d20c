import { BackplanErrors } from '../errors.js';
import { readManifest } from '../validate/read-manifest.js';
import type { ManifestSource } from '../validate/read-manifest.js';
import type { Manifest } from '../manifest.js';
import { openDestination } from '../destination/registry.js';
import type { Destination } from '../destination/types.js';
import { makePlan } from '../plan/make-plan.js';
import { probeFacts } from '../plan/probe.js';
import { offlineFacts, offlineResolution } from '../plan/offline.js';
import type { Plan } from '../plan/types.js';
import { resolveProfile } from '../resolve/resolve.js';
import type { Resolution } from '../resolve/types.js';

export type ValidSource = ManifestSource & { manifest: Manifest };

export interface PlannedRun {
  source: ValidSource;
  resolution: Resolution;
  destination: Destination;
  plan: Plan;
}

export interface PlanOptions {
  waitLockMs?: number;
  env?: NodeJS.ProcessEnv;
  now?: Date;
  /** Ask the database what an incremental would copy (for printed plans; a run finds out by copying). */
  estimate?: boolean;
  offline?: boolean;
}

/** load → validate, throwing every manifest mistake at once. */
export async function readValidManifest(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ValidSource> {
  const source = await readManifest(file, env);
  if (source.errors.length > 0 || !source.manifest) throw new BackplanErrors(source.errors);
  return source as ValidSource;
}

/** load → validate → resolve → plan. */
export async function planFile(file: string, opts: PlanOptions = {}): Promise<PlannedRun> {
  const source = await readValidManifest(file, opts.env);
  return planSource(source, openDestination(source.manifest.destination, opts.env), opts);
}

/** resolve → plan, for a manifest already read and valid and its destination opened. */
export async function planSource(source: ValidSource, destination: Destination, opts: PlanOptions = {}): Promise<PlannedRun> {
  const env = opts.env ?? process.env;
  if (opts.offline) {
    const resolution = offlineResolution(source.manifest);
    return { source, resolution, destination, plan: makePlan({ source, resolution, destination, facts: offlineFacts(opts.now) }) };
  }
  const resolution = await resolveProfile(source.manifest, { positionOf: source.positionOf, env });
  const estimate = opts.estimate === true && source.manifest.repository?.strategy === 'incremental';
  const facts = await probeFacts(destination, source.manifest.name, resolution, opts.now, { estimate });
  const plan = makePlan({ source, resolution, destination, facts, waitLockMs: opts.waitLockMs });
  return { source, resolution, destination, plan };
}
