/**
 * The administrative role of a restore (#13). `verdi quicksetup` makes the profile's role without
 * CREATEDB, so creating (and dropping) the restored database, or `verify --restore-test`'s
 * scratch one, may need another role; the database is still owned by the profile's role.
 *
 * Which role, first match wins:
 *   1. `--admin-user NAME`;
 *   2. DATABASE_URL's user, when the URL names the target server (its host and port);
 *   3. PGUSER;
 * and none when that is the profile's role itself. Its password comes from the environment
 * only: DATABASE_URL's own, else PGPASSWORD, else libpq's ~/.pgpass — never the profile's
 * password from the AiiDA config, and never argv.
 */
import type { DatabaseConnection, Secrets } from '../resolve/types.js';

export interface AdminRole {
  user: string;
  /** Where the name came from, for what a restore says it does. */
  source: '--admin-user' | 'DATABASE_URL' | 'PGUSER';
  secrets: Secrets;
}

export interface AdminChoice {
  admin?: AdminRole;
  /** Why an administrative role in the environment was passed over. */
  note?: string;
}

export function adminRole(profile: DatabaseConnection, adminUser: string | undefined, env: NodeJS.ProcessEnv = process.env): AdminChoice {
  const password = env.PGPASSWORD || undefined;
  const role = (user: string, source: AdminRole['source'], pgPassword = password): AdminChoice =>
    user === profile.user ? {} : { admin: { user, source, secrets: pgPassword === undefined ? {} : { pgPassword } } };
  if (adminUser) return role(adminUser, '--admin-user');
  const url = databaseUrl(env.DATABASE_URL);
  let note: string | undefined;
  if (url && sameServer(url, profile)) return role(url.user, 'DATABASE_URL', url.password ?? password);
  if (url) note = `DATABASE_URL names ${url.host}:${url.port}, not the target server ${profile.host}:${profile.port}: its role is not used`;
  const choice = env.PGUSER ? role(env.PGUSER, 'PGUSER') : {};
  return note === undefined ? choice : { ...choice, note };
}

/** The connection the administrative role uses: the target server, as that role. */
export function asAdmin(connection: DatabaseConnection, admin: AdminRole | undefined): DatabaseConnection {
  return admin ? { ...connection, user: admin.user } : connection;
}

/** The secrets for the commands run as `asAdmin(…)`. */
export function adminSecrets(secrets: Secrets, admin: AdminRole | undefined): Secrets {
  return admin ? admin.secrets : secrets;
}

interface UrlRole {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/** postgres://user[:password]@host[:port]/…; undefined for no URL, another scheme or no user. */
function databaseUrl(raw: string | undefined): UrlRole | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || !url.username) return undefined;
  const role: UrlRole = { host: url.hostname || 'localhost', port: Number(url.port || 5432), user: decodeURIComponent(url.username) };
  if (url.password) role.password = decodeURIComponent(url.password);
  return role;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function sameServer(url: UrlRole, target: DatabaseConnection): boolean {
  const host = (h: string) => (LOOPBACK.has(h) ? 'localhost' : h.toLowerCase());
  return url.port === target.port && host(url.host) === host(target.host);
}
