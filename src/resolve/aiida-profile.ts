import { fileURLToPath } from 'node:url';
import type { SourcePos } from '../errors.js';
import { nonEmpty, profileError } from './context.js';
import { isObject } from './aiida-config.js';
import type { DatabaseConnection, RepositoryLayout } from './types.js';

type Json = Record<string, unknown>;

/** What one AiiDA profile says about its database and repository. */
export interface ProfileSettings {
  aiidaVersion: 1 | 2;
  database: DatabaseConnection;
  repository: { path: string; layout: RepositoryLayout };
  /** From the config; kept out of every message. */
  password?: string;
}

/** Names the profile in messages. */
export interface ProfileSource {
  name: string;
  file: string;
  pos?: SourcePos;
}

/** The same settings under 2.x (`storage.config`) and 1.x (`AIIDADB_*`) key names. */
interface KeyNames {
  prefix: string;
  host: string;
  port: string;
  name: string;
  user: string;
  password: string;
  repositoryUri: string;
}

const V2_KEYS: KeyNames = {
  prefix: 'storage.config.',
  host: 'database_hostname',
  port: 'database_port',
  name: 'database_name',
  user: 'database_username',
  password: 'database_password',
  repositoryUri: 'repository_uri',
};

const V1_KEYS: KeyNames = {
  prefix: '',
  host: 'AIIDADB_HOST',
  port: 'AIIDADB_PORT',
  name: 'AIIDADB_NAME',
  user: 'AIIDADB_USER',
  password: 'AIIDADB_PASS',
  repositoryUri: 'AIIDADB_REPOSITORY_URI',
};

const V2_BACKENDS = ['core.psql_dos', 'psql_dos'];
/** Both AiiDA 1.x backends keep their data in PostgreSQL. */
const V1_BACKENDS = ['django', 'sqlalchemy'];

const OTHER_SETUPS_HINT =
  'to back up another kind of setup, describe its files and database with profile.explicit';

const where = (src: ProfileSource) => `AiiDA profile "${src.name}" in ${src.file}`;

export function profileSettings(profile: Json, src: ProfileSource): ProfileSettings {
  if (isObject(profile.storage)) return v2Settings(profile.storage, src);
  if (Object.keys(profile).some((k) => k.startsWith('AIIDADB_'))) return v1Settings(profile, src);
  throw profileError(
    `${where(src)} has neither storage (AiiDA 2.x) nor AIIDADB_* keys (AiiDA 1.x)`,
    src.pos,
  );
}

function v2Settings(storage: Json, src: ProfileSource): ProfileSettings {
  if (!V2_BACKENDS.includes(storage.backend as string)) {
    throw profileError(
      `${where(src)} uses storage backend "${String(storage.backend)}"; ` +
        'backplan backs up PostgreSQL (core.psql_dos) profiles',
      src.pos,
      OTHER_SETUPS_HINT,
    );
  }
  const config = isObject(storage.config) ? storage.config : {};
  return { aiidaVersion: 2, ...connection(config, V2_KEYS, 'disk-objectstore', src) };
}

function v1Settings(profile: Json, src: ProfileSource): ProfileSettings {
  if (!V1_BACKENDS.includes(profile.AIIDADB_BACKEND as string)) {
    throw profileError(
      `${where(src)} has AIIDADB_BACKEND "${String(profile.AIIDADB_BACKEND)}"; ` +
        'backplan backs up AiiDA 1.x profiles with the django or sqlalchemy (PostgreSQL) backend',
      src.pos,
      OTHER_SETUPS_HINT,
    );
  }
  return { aiidaVersion: 1, ...connection(profile, V1_KEYS, 'aiida-1', src) };
}

function connection(
  values: Json,
  keys: KeyNames,
  layout: RepositoryLayout,
  src: ProfileSource,
): Omit<ProfileSettings, 'aiidaVersion'> {
  const label = (key: string) => `${keys.prefix}${key}`;
  const required = (key: string): string => {
    const value = nonEmpty(values[key]);
    if (value !== undefined) return value;
    throw profileError(`${where(src)} lacks ${label(key)}`, src.pos);
  };
  const uri = required(keys.repositoryUri);
  return {
    database: {
      host: nonEmpty(values[keys.host]) ?? 'localhost',
      port: port(values[keys.port], label(keys.port), src),
      name: required(keys.name),
      user: required(keys.user),
    },
    repository: { path: repositoryPath(uri, label(keys.repositoryUri), src), layout },
    password: nonEmpty(values[keys.password]),
  };
}

/** AiiDA 1.x wrote the port as a string, 2.x as a number; an absent one is PostgreSQL's default. */
function port(value: unknown, key: string, src: ProfileSource): number {
  if (value === undefined || value === null || value === '') return 5432;
  const digits = typeof value === 'string' && /^\d+$/.test(value);
  const n = typeof value === 'number' ? value : digits ? Number(value) : NaN;
  if (Number.isInteger(n) && n > 0 && n < 65536) return n;
  throw profileError(`${where(src)} has an invalid ${key}`, src.pos);
}

function repositoryPath(uri: string, key: string, src: ProfileSource): string {
  try {
    if (uri.startsWith('file://')) return fileURLToPath(uri);
  } catch {
    // a file:// URI naming another host: reported below like any other non-local URI
  }
  throw profileError(`${where(src)}: ${key} must be a local file:/// URI`, src.pos);
}
