/**
 * Which server a restore loads the database into: the manifest's profile, as a backup would
 * reach it. When that profile cannot be resolved any more (the machine was lost with its AiiDA
 * config or data folder), the snapshot's own copy of the configuration, or the manifest's
 * explicit database block, still says where the database lived.
 */
import os from 'node:os';
import { join } from 'node:path';
import { isBackplanError } from '../errors.js';
import type { Manifest } from '../manifest.js';
import { nonEmpty } from '../resolve/context.js';
import { resolveProfile } from '../resolve/resolve.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';

export interface RestoreConnection {
  connection: DatabaseConnection;
  secrets: Secrets;
  /** Set when the manifest's profile could not be used: where the connection came from instead. */
  note?: string;
}

export async function restoreConnection(manifest: Manifest, snapshotDir: string, env: NodeJS.ProcessEnv = process.env): Promise<RestoreConnection> {
  try {
    const { profile, secrets } = await resolveProfile(manifest, { env });
    return { connection: profile.database, secrets };
  } catch (e) {
    if (!isBackplanError(e) || e.code !== 'PROFILE') throw e;
    const why = `the manifest's profile cannot be read (${e.message})`;
    const { aiida, explicit } = manifest.profile;
    if (explicit) {
      return { connection: explicitConnection(explicit.database, env), secrets: { pgPassword: nonEmpty(env.PGPASSWORD) }, note: `${why}; using its database block` };
    }
    const config = join(snapshotDir, 'config', 'config.json');
    const { profile, secrets } = await resolveProfile({ ...manifest, profile: { aiida: { config, profile: aiida?.profile } } }, { env }).catch(() => {
      throw e;
    });
    return { connection: profile.database, secrets, note: `${why}; using the snapshot's copy ${config}` };
  }
}

/** The explicit profile's database with resolveExplicit's defaults, without its folder checks. */
function explicitConnection(db: { host?: string; port?: number; name: string; user?: string }, env: NodeJS.ProcessEnv): DatabaseConnection {
  return { host: db.host ?? 'localhost', port: db.port ?? 5432, name: db.name, user: db.user ?? nonEmpty(env.PGUSER) ?? os.userInfo().username };
}
