/**
 * Which server a restore loads the database into: the manifest's profile, as a backup would
 * reach it, unless the command line names another (onServer). When that profile cannot be resolved any more (the machine was lost with its AiiDA
 * config or data folder), the snapshot's own copy of the configuration, or the manifest's
 * explicit database block, still says where the database lived.
 */
import os from 'node:os';
import { join } from 'node:path';
import { BackplanError, isBackplanError } from '../errors.js';
import { AGE_SUFFIX, readPlain } from '../execute/age.js';
import { pickProfile } from '../resolve/aiida-config.js';
import { profileSettings } from '../resolve/aiida-profile.js';
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

export async function restoreConnection(manifest: Manifest, snapshotDir: string, env: NodeJS.ProcessEnv = process.env, identity?: string): Promise<RestoreConnection> {
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
    if (identity !== undefined) {
      const sealed = await sealedConnection(`${config}${AGE_SUFFIX}`, aiida?.profile, identity, env);
      if (sealed) return { ...sealed, note: `${why}; using the snapshot's encrypted copy ${config}${AGE_SUFFIX}` };
    }
    const { profile, secrets } = await resolveProfile({ ...manifest, profile: { aiida: { config, profile: aiida?.profile } } }, { env }).catch(() => {
      throw e;
    });
    return { connection: profile.database, secrets, note: `${why}; using the snapshot's copy ${config}` };
  }
}

/** An encrypted snapshot's config.json.age, decrypted in memory only; undefined when it has none. */
async function sealedConnection(file: string, name: string | undefined, identity: string, env: NodeJS.ProcessEnv): Promise<Omit<RestoreConnection, 'note'> | undefined> {
  const json = await readPlain(file, identity).then((bytes) => JSON.parse(String(bytes)) as unknown, () => undefined);
  if (json === undefined) return undefined;
  const picked = pickProfile(json, name, file, undefined);
  const settings = profileSettings(picked.profile, { name: picked.name, file });
  return { connection: settings.database, secrets: { pgPassword: nonEmpty(env.PGPASSWORD) ?? settings.password } };
}

/** The explicit profile's database with resolveExplicit's defaults, without its folder checks. */
function explicitConnection(db: { host?: string; port?: number; name: string; user?: string }, env: NodeJS.ProcessEnv): DatabaseConnection {
  return { host: db.host ?? 'localhost', port: db.port ?? 5432, name: db.name, user: db.user ?? nonEmpty(env.PGUSER) ?? os.userInfo().username };
}

/** The target server named on the command line: --host/--port/--user, or --dsn (exclusive). */
export interface ServerOptions {
  host?: string;
  port?: number;
  user?: string;
  dsn?: string;
}

/**
 * The profile's connection moved to the server the command line names (#13). Its password is
 * then the environment's (PGPASSWORD, else ~/.pgpass), never the AiiDA config's, which belongs to
 * the original server. A DSN is `postgres://[user@]host[:port][/database]`; one holding a
 * password is refused, as argv shows in `ps` and shell history. Its database, if any, is the
 * restored database's name.
 */
export function onServer(base: RestoreConnection, o: ServerOptions, env: NodeJS.ProcessEnv = process.env): RestoreConnection & { database?: string } {
  const parts = o.dsn === undefined ? { host: o.host, port: o.port, user: o.user } : parseDsn(o.dsn);
  if (o.dsn !== undefined && [o.host, o.port, o.user].some((v) => v !== undefined)) {
    throw new BackplanError('USAGE', '--dsn names the whole server: give it, or --host/--port/--user, not both');
  }
  if (parts.host === undefined && parts.port === undefined && parts.user === undefined) return base;
  const connection = { ...base.connection, host: parts.host ?? base.connection.host, port: parts.port ?? base.connection.port, user: parts.user ?? base.connection.user };
  const result: RestoreConnection & { database?: string } = { connection, secrets: { pgPassword: nonEmpty(env.PGPASSWORD) } };
  if (base.note !== undefined) result.note = base.note;
  if ('database' in parts && parts.database !== undefined) result.database = parts.database;
  return result;
}

function parseDsn(dsn: string): { host?: string; port?: number; user?: string; database?: string } {
  const usage = (why: string) => new BackplanError('USAGE', `--dsn ${why}`, { hint: 'e.g. --dsn postgres://aiida@db2.example.org:5432; the password from PGPASSWORD or ~/.pgpass' });
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw usage('is not a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw usage(`has scheme ${url.protocol}, expected postgres:`);
  // Said without echoing the URL: it holds the password.
  if (url.password) throw new BackplanError('USAGE', '--dsn holds a password, which the command line would show to every user of this machine (ps, shell history)', { hint: 'leave it out of the URL and set PGPASSWORD, or add it to ~/.pgpass' });
  if (url.search || url.hash) throw usage('takes no parameters (?…): only user, host, port and database');
  const port = url.port ? Number(url.port) : undefined;
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    ...(url.hostname ? { host: url.hostname.replace(/^\[(.*)\]$/, '$1') } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
    ...(database ? { database } : {}),
  };
}
