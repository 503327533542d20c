import type { ErrorCode } from '../errors.js';

/** SPEC's exit codes: 0 ok, 1 a step failed, 2 invalid manifest or usage, 75 locked, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, locked: 75, interrupted: 130 } as const;

const INVALID: ErrorCode[] = ['FILE_NOT_FOUND', 'YAML_SYNTAX', 'SCHEMA', 'BAD_VERSION', 'UNSET_VARIABLE', 'PROFILE', 'GRAPH', 'USAGE'];

export function exitCodeFor(code: ErrorCode): number {
  if (code === 'LOCKED') return EXIT.locked;
  if (code === 'INTERRUPTED') return EXIT.interrupted;
  return INVALID.includes(code) ? EXIT.invalid : EXIT.failed;
}
