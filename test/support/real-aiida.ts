/**
 * A real aiida-core 2.4.3, installed offline from ../shared/real-aiida (install.sh; about 15 s
 * the first time, then cached in ~/.cache/real-aiida/venv), for tests that must prove a restored
 * profile is one AiiDA itself loads and checks. Where the installer is not on this machine the
 * tests are skipped with the reason printed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { PgServer } from '../../src/demo/cluster.js';
import { repoRoot } from './profile.js';

const exec = promisify(execFile);

export interface RealAiida {
  /** The virtualenv's python, with aiida and disk_objectstore importable. */
  python: string;
  verdi: string;
  /** quicksetup.py: `verdi quicksetup` without the locale this PostgreSQL lacks. */
  quicksetup: string;
}

/** `BACKPLAN_REAL_AIIDA`, else ../shared/real-aiida beside the checkout, else /work/shared/real-aiida. */
function installerDir(): string | undefined {
  const candidates = [process.env.BACKPLAN_REAL_AIIDA, join(repoRoot, '..', 'shared', 'real-aiida'), '/work/shared/real-aiida'];
  return candidates.find((d): d is string => d !== undefined && existsSync(join(d, 'install.sh')));
}

let installing: Promise<RealAiida | string> | undefined;

/** The installed AiiDA, or why there is none here (a reason to print when skipping). */
export function realAiida(): Promise<RealAiida | string> {
  installing ??= (async () => {
    const dir = installerDir();
    if (!dir) return 'the real-aiida installer (../shared/real-aiida/install.sh) is not on this machine; set BACKPLAN_REAL_AIIDA to its folder';
    try {
      const { stdout } = await exec('bash', [join(dir, 'install.sh')], { maxBuffer: 16 << 20 });
      const verdi = stdout.trim().split('\n').at(-1)!;
      return { verdi, python: join(dirname(verdi), 'python'), quicksetup: join(dir, 'quicksetup.py') };
    } catch (e) {
      return `installing the real AiiDA failed: ${(e as Error).message.split('\n').slice(-3).join(' ')}`;
    }
  })();
  return installing;
}

export interface AiidaProfile {
  /** AIIDA_PATH: the folder holding .aiida/config.json. */
  aiidaPath: string;
  profile: string;
  database: string;
  /** The profile's own role, made by quicksetup without CREATEDB. */
  role: string;
  repository: string;
}

/** A profile made the way users make one: `verdi quicksetup` against a server with an admin role. */
export async function quicksetup(aiida: RealAiida, server: PgServer, name: string): Promise<AiidaProfile> {
  const aiidaPath = await mkdtemp(join(tmpdir(), `backplan-aiida-${name}-`));
  const p: AiidaProfile = { aiidaPath, profile: name, database: `aiida_${name}`, role: `aiida_${name}_user`, repository: join(aiidaPath, 'repository') };
  const args = ['-n', '--profile', name, '--email', 'test@example.org', '--first-name', 'A', '--last-name', 'B', '--institution', 'X'];
  args.push('--db-host', server.host, '--db-port', String(server.port), '--su-db-username', server.user, '--db-name', p.database);
  args.push('--db-username', p.role, '--db-password', `pw-${name}`, '--repository', p.repository);
  await exec(aiida.python, [aiida.quicksetup, ...args], { env: aiidaEnv(aiidaPath, server), maxBuffer: 16 << 20 });
  return p;
}

/** Runs a python script against the profile (AiiDA's API loaded); resolves with its stdout. */
export async function aiidaPython(aiida: RealAiida, aiidaPath: string, script: string, server?: PgServer): Promise<string> {
  const file = join(aiidaPath, `script-${Date.now()}-${Math.random().toString(36).slice(2)}.py`);
  await writeFile(file, script);
  const { stdout } = await exec(aiida.python, [file], { env: aiidaEnv(aiidaPath, server), maxBuffer: 64 << 20 });
  return stdout;
}

export async function verdi(aiida: RealAiida, aiidaPath: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(aiida.verdi, args, { env: aiidaEnv(aiidaPath), maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * Stores `count` nodes with a file each through AiiDA's API and returns their uuids with each
 * file's content, to read back after a restore.
 */
export async function storeNodes(aiida: RealAiida, p: AiidaProfile, count: number, tag: string): Promise<Record<string, string>> {
  const script = `
import io, json
from aiida import load_profile, orm
load_profile(${JSON.stringify(p.profile)})
stored = {}
for i in range(${count}):
    node = orm.SinglefileData(io.BytesIO((${JSON.stringify(tag)} + '-%d ' % i + 'x' * (i * 37 % 4000)).encode()), filename='data.txt')
    node.store()
    stored[node.uuid] = node.get_content()
print(json.dumps(stored))
`;
  return JSON.parse((await aiidaPython(aiida, p.aiidaPath, script)).trim().split('\n').at(-1)!) as Record<string, string>;
}

/** Reads every node's file back through AiiDA: uuid → content. */
export async function readNodes(aiida: RealAiida, aiidaPath: string, profile: string, uuids: string[]): Promise<Record<string, string>> {
  const script = `
import json
from aiida import load_profile, orm
load_profile(${JSON.stringify(profile)})
print(json.dumps({u: orm.load_node(u).get_content() for u in ${JSON.stringify(uuids)}}))
`;
  return JSON.parse((await aiidaPython(aiida, aiidaPath, script)).trim().split('\n').at(-1)!) as Record<string, string>;
}

/** disk-objectstore's own check of the profile's container: errors found (none: {}). */
export async function validateContainer(aiida: RealAiida, aiidaPath: string, profile: string): Promise<Record<string, unknown>> {
  const script = `
import json
from aiida import load_profile
from aiida.manage import get_manager
load_profile(${JSON.stringify(profile)})
container = get_manager().get_profile_storage().get_repository()._container
print(json.dumps({k: v for k, v in container.validate().items() if v}))
`;
  return JSON.parse((await aiidaPython(aiida, aiidaPath, script)).trim().split('\n').at(-1)!) as Record<string, unknown>;
}

function aiidaEnv(aiidaPath: string, server?: PgServer): NodeJS.ProcessEnv {
  return { ...process.env, ...(server?.env ?? {}), AIIDA_PATH: aiidaPath, AIIDA_WARN_v3: '0', PYTHONWARNINGS: 'ignore' };
}
