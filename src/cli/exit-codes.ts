import type { ErrorCode } from '../errors.js';

/**
 * SPEC's exit codes: 0 ok, 1 a step failed, 2 invalid manifest or usage, 75 locked, and for an
 * interrupted command 128 + the signal's number, as shells and service managers read it:
 * 130 after SIGINT (Ctrl-C), 143 after SIGTERM (`systemctl stop`, `docker stop`, `kill`).
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, locked: 75, interrupted: 130, terminated: 143 } as const;

const INVALID: ErrorCode[] = ['FILE_NOT_FOUND', 'YAML_SYNTAX', 'SCHEMA', 'BAD_VERSION', 'UNSET_VARIABLE', 'PROFILE', 'GRAPH', 'USAGE'];

/** `signal`: the one that interrupted the command, if any (an INTERRUPTED without one is a Ctrl-C's). */
export function exitCodeFor(code: ErrorCode, signal?: NodeJS.Signals): number {
  if (code === 'LOCKED') return EXIT.locked;
  if (code === 'INTERRUPTED') return signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted;
  return INVALID.includes(code) ? EXIT.invalid : EXIT.failed;
}
