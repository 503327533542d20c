import os from 'node:os';
import type { ExplicitProfileSpec } from '../manifest.js';
import type { ResolveContext } from './context.js';
import { nonEmpty, profileError } from './context.js';
import { expandPath, statOf } from './paths.js';
import type { Resolution } from './types.js';

export async function resolveExplicit(spec: ExplicitProfileSpec, ctx: ResolveContext): Promise<Resolution> {
  const configPaths: string[] = [];
  // One at a time, so the error reported is always the first missing entry.
  for (const [i, p] of (spec.config ?? []).entries()) {
    const full = expandPath(p, ctx.env);
    if (!(await statOf(full))) {
      throw profileError(`config path not found: ${full}`, ctx.positionOf(['profile', 'explicit', 'config', i]));
    }
    configPaths.push(full);
  }
  const { database } = spec;
  return {
    profile: {
      kind: 'explicit',
      configPaths,
      repository: { path: await repositoryFolder(spec.repository, ctx), layout: spec.layout ?? 'plain' },
      database: {
        host: database.host ?? 'localhost',
        port: database.port ?? 5432,
        name: database.name,
        user: database.user ?? nonEmpty(ctx.env.PGUSER) ?? os.userInfo().username,
      },
    },
    secrets: { pgPassword: nonEmpty(ctx.env.PGPASSWORD) },
  };
}

async function repositoryFolder(repository: string, ctx: ResolveContext): Promise<string> {
  const full = expandPath(repository, ctx.env);
  const st = await statOf(full);
  if (!st?.isDirectory()) {
    const problem = st ? 'is not a folder' : 'not found';
    throw profileError(`repository ${full} ${problem}`, ctx.positionOf(['profile', 'explicit', 'repository']));
  }
  return full;
}
