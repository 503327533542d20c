/**
 * `backplan init [FILE]`: a commented starter manifest that validates as written. It finds the
 * AiiDA config the way verdi does (AIIDA_PATH, else ~/.aiida) or takes the paths of an explicit
 * profile from flags, reads what it can from the profile, writes FILE (never over an existing
 * one) or prints to stdout, and checks its own text with `validate`'s reader before writing.
 */
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BackplanError, BackplanErrors } from '../errors.js';
import { readManifestText } from '../validate/read-manifest.js';
import type { ExplicitProfileSpec } from '../manifest.js';
import { pickProfile, readConfigJson } from '../resolve/aiida-config.js';
import { profileSettings } from '../resolve/aiida-profile.js';
import { locateAiidaConfig } from '../resolve/locate-config.js';
import type { Output } from './output.js';
import { MODELINE, SCHEMA_FILE, writeSchema } from './schema.js';

export interface InitOptions {
  /** An AiiDA profile: true to look for config.json, or where it is. */
  aiida?: string | true;
  profile?: string;
  /** An explicit profile, from the flags below. */
  explicit?: boolean;
  config?: string[];
  repository?: string;
  database?: string;
  host?: string;
  port?: number;
  user?: string;
  layout?: NonNullable<ExplicitProfileSpec['layout']>;
  name?: string;
  destination?: string;
}

/** What AiiDA itself would read: `${AIIDA_PATH:-~}/.aiida/config.json` (written as such). */
const AIIDA_CONFIG = '${AIIDA_PATH:-~}/.aiida/config.json';

/** A YAML double-quoted string that backplan reads back unchanged (`$` would start a variable). */
const quoted = (s: string) => JSON.stringify(s.replace(/\$/g, '$$$$'));

/** A job name ([a-z0-9-]+) made from a profile or folder name. */
function jobName(from: string): string {
  const name = from.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return name || 'backup';
}

export async function initManifest(opts: InitOptions, env: NodeJS.ProcessEnv): Promise<{ text: string; describes: string }> {
  const explicit = opts.explicit || opts.repository !== undefined || opts.database !== undefined;
  if (explicit && opts.aiida !== undefined) throw usage('choose one profile kind: --aiida, or --explicit with --repository and --database');
  if (explicit) return explicitManifest(opts);
  return aiidaManifest(opts, env);
}

async function aiidaManifest(opts: InitOptions, env: NodeJS.ProcessEnv): Promise<{ text: string; describes: string }> {
  const given = typeof opts.aiida === 'string' ? path.resolve(opts.aiida) : undefined;
  const { found, tried } = await locateAiidaConfig(given ?? AIIDA_CONFIG.replace('${AIIDA_PATH:-~}', env.AIIDA_PATH || '~'), env);
  if (!found) {
    throw usage(`no AiiDA config found (looked at ${tried.join(', ')})`, 'name it with --aiida CONFIG, or describe the files and database with --explicit --repository DIR --database NAME');
  }
  const config = await readConfigJson(found, undefined);
  const { name: profile, profile: spec } = withHint(() => pickProfile(config, opts.profile, found, undefined), 'choose one with --profile NAME');
  const settings = profileSettings(spec, { name: profile, file: found });
  const others = Object.keys((config as { profiles: object }).profiles).filter((p) => p !== profile);
  const name = opts.name ?? jobName(`aiida-${profile}`);
  const lines = [
    ...header(`the AiiDA ${settings.aiidaVersion}.x profile "${profile}" in ${found}`),
    `name: ${name}`,
    '',
    'profile:',
    '  aiida:',
    given ? '    # config.json, a folder holding .aiida/, or an AIIDA_PATH-style list.' : '    # Where verdi looks: AIIDA_PATH if set, else the home folder.',
    `    config: ${given ? quoted(given) : `"${AIIDA_CONFIG}"`}`,
    `    # Pinned, since default_profile changes when people switch.${others.length ? ` Other profiles: ${others.join(', ')}.` : ''}`,
    `    profile: ${quoted(profile)}`,
    ...common(name, opts),
    'repository:',
    '  # tar: one archive per snapshot. For a large repository, incremental copies only the files',
    '  # of the nodes changed since the last snapshot, with a fresh full copy every fullEvery.',
    '  strategy: tar',
    '  # incremental: { fullEvery: 30d, margin: 5m }',
    '',
    ...retention(),
    '# The daemon may keep running: the database state is fixed (an exported snapshot) before the',
    '# files are copied, and files newer than it are harmless. To stop it anyway:',
    '# hooks:',
    `#   before: [{ run: "verdi -p ${profile} daemon stop" }]`,
    `#   after: [{ run: "verdi -p ${profile} daemon start", always: true }]`,
    ...notify(),
  ];
  return { text: lines.join('\n') + '\n', describes: `AiiDA profile ${profile} from ${found}` };
}

function explicitManifest(opts: InitOptions): { text: string; describes: string } {
  if (!opts.repository || !opts.database) {
    throw usage('an explicit profile needs --repository DIR and --database NAME', 'add --config PATH (repeatable) for configuration files or folders to keep');
  }
  const repository = path.resolve(opts.repository);
  const name = opts.name ?? jobName(path.basename(repository));
  const configs = (opts.config ?? []).map((c) => path.resolve(c));
  const lines = [
    ...header(`the files in ${repository} and the database ${opts.database}`),
    `name: ${name}`,
    '',
    'profile:',
    '  explicit:',
    '    # Files or folders copied as they are into the snapshot\'s config/.',
    configs.length ? '    config:' : '    config: []',
    ...configs.map((c) => `      - ${quoted(c)}`),
    `    repository: ${quoted(repository)}`,
    '    # plain (any folder), aiida-1 (repository/node/ab/cd/…) or disk-objectstore (container/):',
    '    # only the incremental strategy needs an AiiDA layout.',
    `    layout: ${opts.layout ?? 'plain'}`,
    '    database:',
    `      host: ${quoted(opts.host ?? 'localhost')}`,
    `      port: ${opts.port ?? 5432}`,
    `      name: ${quoted(opts.database)}`,
    opts.user ? `      user: ${quoted(opts.user)}` : '      # user: NAME                 # default: the user running backplan',
    '      # The password comes from PGPASSWORD or ~/.pgpass, never from this file.',
    ...common(name, opts),
    'repository:',
    '  strategy: tar                  # tar (one archive) | rsync (a folder hard-linked to the last one)',
    '  exclude: []                    # e.g. [tmp, caches, "*.log"]',
    '',
    ...retention(),
    '# Commands around the backup, without a shell (a string is split into words):',
    '# hooks:',
    '#   before: [{ run: "systemctl stop my-app" }]',
    '#   after: [{ run: "systemctl start my-app", always: true }]',
    ...notify(),
  ];
  return { text: lines.join('\n') + '\n', describes: `the explicit profile of ${repository}` };
}

function header(what: string): string[] {
  return [
    MODELINE,
    '#',
    `# Written by \`backplan init\` for ${what}.`,
    '# Check it with `backplan validate` and `backplan plan`, then `backplan run` it. ${VAR} and',
    '# ${VAR:-default} expand from the environment in any value; secrets never belong here.',
    'version: 1',
  ];
}

function common(name: string, opts: InitOptions): string[] {
  return [
    '',
    '# A local folder, or user@host:/path over ssh.',
    `destination: ${quoted(opts.destination ?? `/var/backups/backplan/${name}`)}`,
    '',
    'database:',
    '  format: custom                 # custom (one file) | directory (parallel, see jobs) | plain (SQL)',
    '  compression: zstd              # zstd | gzip | none',
    '',
  ];
}

function retention(): string[] {
  return ['# Which complete snapshots to keep (as borg prune); the newest is always kept.', 'retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }', ''];
}

function notify(): string[] {
  return [
    '',
    '# Monitoring pings (healthchecks-style); a failed ping never fails the backup.',
    '# notify:',
    '#   start: https://hc-ping.com/YOUR-UUID/start',
    '#   finish: https://hc-ping.com/YOUR-UUID',
    '#   fail: https://hc-ping.com/YOUR-UUID/fail',
  ];
}

function withHint<T>(f: () => T, hint: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BackplanError) throw new BackplanError(e.code, e.message, { hint });
    throw e;
  }
}

const usage = (message: string, hint?: string) => new BackplanError('USAGE', message, hint ? { hint } : {});

/**
 * Writes the starter manifest to `file` (refusing an existing one) with the schema beside it
 * when none is there, or prints it when `file` is undefined or `-`.
 */
export async function initCommand(file: string | undefined, opts: InitOptions, output: Output, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { text, describes } = await initManifest(opts, env);
  const target = file === undefined || file === '-' ? undefined : file;
  // What `validate` would say of it, here: flags such as --name can make it invalid.
  const check = readManifestText(target ?? 'the starter manifest', text, env);
  if (check.errors.length > 0) throw new BackplanErrors(check.errors);
  if (!target) return output.out(text);
  try {
    await writeFile(target, text, { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw usage(`${target} exists; backplan init never overwrites a file`, 'choose another name, or move that file away first');
    throw usage(`cannot write ${target}: ${code ?? (e as Error).message}`);
  }
  output.err(`wrote ${target} for ${describes}\n`);
  const schema = path.join(path.dirname(target), SCHEMA_FILE);
  if (!(await stat(schema).catch(() => undefined))) output.err(`wrote ${await writeSchema(schema)} for the editor (its modeline names it)\n`);
  output.err(`next: backplan validate ${target} && backplan plan ${target}\n`);
}
