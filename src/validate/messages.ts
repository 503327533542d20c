import type { ErrorObject } from 'ajv';
import type { ErrorCode } from '../errors.js';
import { displayPath, pointerToPath } from '../load/source.js';

export interface DescribedError {
  code: ErrorCode;
  message: string;
  hint?: string;
}

const DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d|w))+$';
/** encryption.age.recipients: an age or ssh public key. */
const RECIPIENT_PATTERN = /^\^\(age1/;

/**
 * Turns one ajv error into a sentence naming the key and, where the schema knows them, the
 * allowed values; for a value expanded from `${…}`, also how it was written.
 */
export function describeSchemaError(e: ErrorObject, written?: string): DescribedError {
  const origin = written === undefined ? undefined : `expanded from ${written.length > 60 ? `${written.slice(0, 60)}…` : written}`;
  const described = describe(e, origin ? `${describeValue(e.data)}, ${origin}` : describeValue(e.data));
  if (origin && !described.message.includes(origin)) described.message += ` (${origin})`;
  // A rule between keys (if/then) explains itself in the description beside the check.
  if (e.schemaPath.includes('/then/') && typeof e.parentSchema?.description === 'string') described.hint ??= e.parentSchema.description;
  return described;
}

function describe(e: ErrorObject, got: string): DescribedError {
  const where = displayPath(pointerToPath(e.instancePath)) || 'the manifest';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema?.properties as object | undefined) ?? {});
      const inside = e.instancePath === '' ? 'at the top level' : `in ${where}`;
      return {
        code: 'SCHEMA',
        message: `unknown key "${String(p.additionalProperty)}" ${inside}; allowed keys: ${allowed.join(', ')}`,
      };
    }
    case 'required':
      return { code: 'SCHEMA', message: `missing required key "${String(p.missingProperty)}" in ${where}` };
    case 'enum':
      if (e.instancePath === '/version') return badVersion(JSON.stringify(e.data) ?? 'nothing');
      return { code: 'SCHEMA', message: `${where} must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')} (got ${got})` };
    case 'type':
      if (e.parentSchema?.pattern === DURATION_PATTERN) return patternMessage(where, DURATION_PATTERN, got);
      return { code: 'SCHEMA', message: `${where} must be ${typeName(p.type)} (got ${got})` };
    case 'pattern':
      // A secret pasted where a public key belongs is never echoed back, not even in part.
      return patternMessage(where, String(p.pattern), typeof e.data === 'string' && /^AGE-SECRET-KEY-/i.test(e.data) ? 'an age identity, not shown' : got);
    case 'minimum':
    case 'maximum':
      return { code: 'SCHEMA', message: `${where} must be ${String(p.comparison)} ${String(p.limit)} (got ${got})` };
    case 'minLength':
    case 'minItems':
      return { code: 'SCHEMA', message: `${where} must not be empty` };
    case 'minProperties':
    case 'maxProperties':
      return {
        code: 'SCHEMA',
        message: `${where} must have exactly one of: ${Object.keys((e.parentSchema?.properties as object) ?? {}).join(', ')}`,
      };
    case 'format':
      return { code: 'SCHEMA', message: `${where} must be a ${String(p.format).toUpperCase()} (got ${got})` };
    default:
      return { code: 'SCHEMA', message: `${where} ${e.message ?? 'is invalid'}` };
  }
}

function badVersion(got: string): DescribedError {
  return {
    code: 'BAD_VERSION',
    message: `unsupported manifest version ${got}; this backplan knows version 1`,
    hint: 'write `version: 1`',
  };
}

function patternMessage(where: string, pattern: string, got: string): DescribedError {
  if (pattern === DURATION_PATTERN) {
    return { code: 'SCHEMA', message: `${where} must be a duration such as 30d, 12h, 5m or 1h30m (got ${got})` };
  }
  if (RECIPIENT_PATTERN.test(pattern)) {
    return {
      code: 'SCHEMA',
      message: `${where} must be a public key: age (age1…) or ssh (ssh-ed25519 …, ssh-rsa …) (got ${got})`,
      hint: 'age-keygen -y IDENTITY prints an identity\'s public key; never put the identity (AGE-SECRET-KEY-…) itself in a manifest',
    };
  }
  const readable = pattern.replace(/^\^/, '').replace(/\$$/, '');
  return { code: 'SCHEMA', message: `${where} must match ${readable} (got ${got})` };
}

function typeName(type: unknown): string {
  const names = String(type).split(',');
  const article = (t: string) => ({ integer: 'an integer', array: 'a list', object: 'a mapping' })[t] ?? `a ${t}`;
  return names.map((t) => (t === 'null' ? 'null' : article(t))).join(' or ');
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
