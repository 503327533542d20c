import type { AiidaProfileSpec } from '../manifest.js';
import type { ResolveContext } from './context.js';
import { nonEmpty, profileError } from './context.js';
import { pickProfile, readConfigJson } from './aiida-config.js';
import { locateAiidaConfig } from './locate-config.js';
import { profileSettings } from './aiida-profile.js';
import type { Resolution } from './types.js';

export async function resolveAiida(spec: AiidaProfileSpec, ctx: ResolveContext): Promise<Resolution> {
  const configPos = ctx.positionOf(['profile', 'aiida', 'config']);
  const profilePos = ctx.positionOf(['profile', 'aiida', 'profile']) ?? configPos;
  const { found, tried } = await locateAiidaConfig(spec.config, ctx.env);
  if (!found) {
    throw profileError(
      `AiiDA config not found: ${spec.config} (looked at ${tried.join(', ')})`,
      configPos,
      'point profile.aiida.config at config.json or the folder holding .aiida/',
    );
  }
  const config = await readConfigJson(found, configPos);
  const { name, profile } = pickProfile(config, spec.profile, found, profilePos);
  const settings = profileSettings(profile, { name, file: found, pos: profilePos });
  return {
    profile: {
      kind: 'aiida',
      configPaths: [],
      aiida: { configPath: found, profileName: name, aiidaVersion: settings.aiidaVersion },
      repository: settings.repository,
      database: settings.database,
    },
    secrets: { pgPassword: nonEmpty(ctx.env.PGPASSWORD) ?? settings.password },
  };
}
