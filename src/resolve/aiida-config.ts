import { readFile } from 'node:fs/promises';
import { BackplanError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { nonEmpty, profileError } from './context.js';

type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads and parses config.json. The parse error is re-worded: V8's messages can quote the text
 * around the mistake, and that text may be the database password.
 */
export async function readConfigJson(file: string, pos: SourcePos | undefined): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw profileError(`cannot read AiiDA config ${file} (${reason})`, pos);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw profileError(`AiiDA config ${file} is not valid JSON: ${describeJsonError(e, text)}`, pos);
  }
}

function describeJsonError(e: unknown, text: string): string {
  const message = e instanceof Error ? e.message : '';
  // "Unexpected token 'x', …snippet… is not valid JSON" carries no position, only file text.
  const reason = message
    .replace(/^Unexpected token .*$/s, 'Unexpected token')
    .replace(/ (in|after) JSON at position.*$/s, '');
  const at = /at position (\d+)/.exec(message);
  if (!at) return reason;
  const before = text.slice(0, Number(at[1])).split('\n');
  return `${reason} at line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** The profile to back up: the one asked for, else the config's default_profile. */
export function pickProfile(
  config: unknown,
  requested: string | undefined,
  file: string,
  pos: SourcePos | undefined,
): { name: string; profile: Json } {
  const profiles = isObject(config) && isObject(config.profiles) ? config.profiles : {};
  const names = Object.keys(profiles);
  const existing = names.length ? `it has: ${names.join(', ')}` : 'it has no profiles';
  const name = requested ?? nonEmpty(isObject(config) ? config.default_profile : undefined);
  if (name === undefined) {
    const hint = 'set profile.aiida.profile';
    throw profileError(`AiiDA config ${file} has no default_profile; ${existing}`, pos, hint);
  }
  const profile = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
  if (!isObject(profile)) {
    throw profileError(`AiiDA profile "${name}" not found in ${file}; ${existing}`, pos);
  }
  return { name, profile };
}

/**
 * A copy of config.json holding only `profileName`, as its default: what a snapshot keeps, so a
 * restore brings back that one profile and no other profile's password.
 */
export function singleProfileConfig(configJson: unknown, profileName: string): object {
  const profiles = isObject(configJson) && isObject(configJson.profiles) ? configJson.profiles : {};
  if (!Object.hasOwn(profiles, profileName)) {
    throw new BackplanError('PROFILE', `AiiDA config has no profile "${profileName}"`);
  }
  const only = { [profileName]: profiles[profileName] };
  return structuredClone({ ...(configJson as Json), default_profile: profileName, profiles: only });
}
