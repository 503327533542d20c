/** The profile's `.aiida/config.json`, in the 1.x or 2.x shape. */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { USER_EMAIL } from './rows.js';
import type { GenerateOptions, GeneratedProfile } from './types.js';

/** config.json: a 2.x (CONFIG_VERSION 9) or 1.x (version 5) shape, mode 0600; other profiles kept. */
export async function writeConfig(o: GenerateOptions, p: GeneratedProfile): Promise<void> {
  const existing = await readFile(p.configPath, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
  const v2 = o.layout === 'disk-objectstore';
  const config = existing ?? {
    CONFIG_VERSION: v2 ? { CURRENT: 9, OLDEST_COMPATIBLE: 9 } : { CURRENT: 5, OLDEST_COMPATIBLE: 5 },
    profiles: {},
    default_profile: p.profileName,
    options: {},
  };
  const profiles = (config.profiles ?? {}) as Record<string, unknown>;
  profiles[p.profileName] = v2 ? profileV2(o, p) : profileV1(o, p);
  config.profiles = profiles;
  await mkdir(join(o.dir, '.aiida'), { recursive: true, mode: 0o700 });
  await writeFile(p.configPath, JSON.stringify(config, null, 4), { mode: 0o600 });
  await chmod(p.configPath, 0o600); // mode applies only when the file is created
}

const BROKER = { broker_protocol: 'amqp', broker_username: 'guest', broker_password: 'guest', broker_host: '127.0.0.1', broker_port: 5672, broker_virtual_host: '' };

function profileV2(o: GenerateOptions, p: GeneratedProfile): object {
  return {
    PROFILE_UUID: createHash('md5').update(`profile:${p.seed}:${p.profileName}`).digest('hex'),
    default_user_email: USER_EMAIL,
    storage: {
      backend: 'core.psql_dos',
      config: {
        database_engine: 'postgresql_psycopg',
        database_hostname: o.server.host,
        database_port: o.server.port,
        database_name: o.database,
        database_username: o.server.user,
        database_password: o.server.password ?? '',
        repository_uri: `file://${p.repositoryPath}`,
      },
    },
    process_control: { backend: 'core.rabbitmq', config: BROKER },
    options: {},
    test_profile: false,
  };
}

function profileV1(o: GenerateOptions, p: GeneratedProfile): object {
  return {
    PROFILE_UUID: createHash('md5').update(`profile:${p.seed}:${p.profileName}`).digest('hex'),
    AIIDADB_ENGINE: 'postgresql_psycopg2',
    AIIDADB_BACKEND: 'django',
    AIIDADB_HOST: o.server.host,
    AIIDADB_PORT: o.server.port,
    AIIDADB_NAME: o.database,
    AIIDADB_USER: o.server.user,
    AIIDADB_PASS: o.server.password ?? '',
    AIIDADB_REPOSITORY_URI: `file://${p.repositoryPath}`,
    default_user_email: USER_EMAIL,
    options: {},
    ...BROKER,
  };
}
