/**
 * The resolve stage: turns a manifest's `profile` block into where the state lives (config
 * files, repository folder, database connection) and the secrets to reach it, kept apart.
 */
import type { Manifest } from '../manifest.js';
import { resolveAiida } from './aiida.js';
import type { PositionOf } from './context.js';
import { profileError } from './context.js';
import { resolveExplicit } from './explicit.js';
import type { Resolution } from './types.js';

export type { PositionOf } from './context.js';
export { singleProfileConfig } from './aiida-config.js';

export async function resolveProfile(
  manifest: Manifest,
  opts: { positionOf?: PositionOf; env?: NodeJS.ProcessEnv },
): Promise<Resolution> {
  const ctx = { env: opts.env ?? process.env, positionOf: opts.positionOf ?? (() => undefined) };
  const { aiida, explicit } = manifest.profile;
  if (aiida) return resolveAiida(aiida, ctx);
  if (explicit) return resolveExplicit(explicit, ctx);
  const hint = 'add profile.aiida or profile.explicit';
  throw profileError('the manifest names no profile', ctx.positionOf(['profile']), hint);
}
