/**
 * `backplan import-legacy backup_info.json`: the manifest equivalent to an AiiDA 1.x
 * start_backup.py configuration. Its windows over node mtime become `periodicity`; its
 * destination becomes `destination`; what has no counterpart is explained in comments.
 */
import { readFile } from 'node:fs/promises';
import { BackplanError } from '../errors.js';
import { MODELINE } from './schema.js';

/** backup_info.json as AiiDA 1.x's backup_setup.py wrote it. */
export interface LegacyBackupInfo {
  /** Days per round. */
  periodicity: number;
  /** Where the repository copy went. */
  backup_dir: string;
  /** Progress of the script: the mtime its next round starts from. */
  oldest_object_backedup?: string | null;
  end_date_of_backup?: string | null;
  days_to_backup?: number | null;
  /** Hours: the shortest acceptable last round. */
  backup_length_threshold?: number | null;
}

export interface ImportOptions {
  /** The job name; default aiida-<profile> or aiida-backup. */
  name?: string;
  /** The AiiDA profile start_backup.py ran for (`verdi -p PROFILE run …`); default the config's default. */
  profile?: string;
}

const DAY_MS = 86_400_000;

export async function importLegacy(file: string, opts: ImportOptions = {}): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new BackplanError('FILE_NOT_FOUND', `cannot read ${file}: ${(e as Error).message}`, { hint: 'name the backup_info.json of your AiiDA backup folder' });
  }
  return legacyManifest(parseBackupInfo(file, text), file, opts);
}

export function parseBackupInfo(file: string, text: string): LegacyBackupInfo {
  const invalid = (why: string) =>
    new BackplanError('USAGE', `${file}: ${why}`, { hint: 'expected an AiiDA 1.x backup_info.json with at least periodicity (days) and backup_dir' });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw invalid(`not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalid('not a JSON object');
  const info = data as Partial<Record<keyof LegacyBackupInfo, unknown>>;
  if (typeof info.periodicity !== 'number' || !(info.periodicity > 0)) throw invalid('periodicity must be a positive number of days');
  if (typeof info.backup_dir !== 'string' || info.backup_dir === '') throw invalid('backup_dir must be a path');
  const optional = <T>(key: keyof LegacyBackupInfo, type: 'string' | 'number'): T | null => {
    const value = info[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== type) throw invalid(`${key} must be a ${type} or null`);
    return value as T;
  };
  return {
    periodicity: info.periodicity,
    backup_dir: info.backup_dir,
    oldest_object_backedup: optional<string>('oldest_object_backedup', 'string'),
    end_date_of_backup: optional<string>('end_date_of_backup', 'string'),
    days_to_backup: optional<number>('days_to_backup', 'number'),
    backup_length_threshold: optional<number>('backup_length_threshold', 'number'),
  };
}

/** The manifest text: valid YAML, every legacy setting accounted for in a comment. */
export function legacyManifest(info: LegacyBackupInfo, source: string, opts: ImportOptions = {}): string {
  const name = opts.name ?? jobName(opts.profile);
  const lines = [
    MODELINE,
    `# Imported by \`backplan import-legacy\` from ${source} (AiiDA 1.x start_backup.py).`,
    '# Review it, then: backplan validate <this file> && backplan plan <this file>',
    'version: 1',
    `name: ${name}`,
    'profile:',
    '  aiida:',
    '    config: ${AIIDA_PATH:-~}/.aiida/config.json',
    opts.profile
      ? `    profile: ${JSON.stringify(opts.profile)}`
      : '    # profile: NAME            # the profile start_backup.py ran for (verdi -p NAME); default: default_profile',
    '# backup_dir: snapshot folders (<time>-full, <time>-incr) are written here, beside anything already in it.',
    `destination: ${JSON.stringify(info.backup_dir)}`,
    'database:',
    '  # start_backup.py copied only the repository; the database was dumped separately (pg_dump | gzip',
    '  # from cron). backplan dumps it in the same run, inside the snapshot the repository copy reads.',
    '  format: custom',
    '  compression: zstd',
    'repository:',
    '  strategy: incremental',
    '  incremental:',
    `    # periodicity: ${info.periodicity} (days): the rounds of node mtime start_backup.py copied; one run`,
    '    # goes through every window up to the database snapshot, so a backlog is caught up at once.',
    `    periodicity: ${durationOf(info.periodicity * DAY_MS)}`,
    '    # The old copy grew forever; backplan starts a fresh full copy this often, so a restore replays',
    '    # a short chain and retention can drop old chains.',
    '    fullEvery: 30d',
    '    # Nodes committed while a run starts are copied by the next one.',
    '    margin: 5m',
    ...legacyNotes(info),
    'retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }',
  ];
  return lines.join('\n') + '\n';
}

/** Comments for the settings that have no counterpart. */
function legacyNotes(info: LegacyBackupInfo): string[] {
  const notes = ['# Not carried over from backup_info.json:'];
  notes.push(
    info.oldest_object_backedup
      ? `#   oldest_object_backedup: ${info.oldest_object_backedup} (the old script's progress). backplan's first run`
      : '#   oldest_object_backedup: null (the old script had not run yet). backplan\'s first run',
    '#     is a full copy; its snapshot.json records a watermark (database clock minus margin) that',
    '#     the next incremental starts from.',
  );
  if (info.end_date_of_backup) {
    notes.push(`#   end_date_of_backup: ${info.end_date_of_backup}: backplan always copies up to the database snapshot of the run.`);
  }
  if (info.days_to_backup !== null && info.days_to_backup !== undefined) {
    notes.push(`#   days_to_backup: ${info.days_to_backup}: a run never stops short of the database snapshot: a copy that`, '#     ends before it would miss files of nodes in the dump.');
  }
  if (info.end_date_of_backup && info.days_to_backup !== null && info.days_to_backup !== undefined) {
    notes.push('#     (start_backup.py refused to run with both end_date_of_backup and days_to_backup set.)');
  }
  if (info.backup_length_threshold !== null && info.backup_length_threshold !== undefined) {
    notes.push(`#   backup_length_threshold: ${info.backup_length_threshold} h, the shortest last round: the last window simply ends at the snapshot.`);
  }
  return notes;
}

function jobName(profile: string | undefined): string {
  const slug = (profile ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return slug ? `aiida-${slug}` : 'aiida-backup';
}

/** Days as a manifest duration: whole days, else hours, else minutes (at least 1m). */
function durationOf(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.max(1, Math.round(ms / 60_000))}m`;
}
