/**
 * The one error type of backplan. Every expected failure is a BackplanError with a code from
 * the table below; the CLI maps code families to exit codes (see cli/exit-codes.ts) and prints
 * `message`, never a stack. Anything else reaching the CLI is a bug and is shown as such.
 *
 * | code              | meaning                                                     | exit |
 * | ----------------- | ----------------------------------------------------------- | ---- |
 * | FILE_NOT_FOUND    | a manifest or input file cannot be read                     | 2    |
 * | YAML_SYNTAX       | the manifest is not well-formed YAML                        | 2    |
 * | SCHEMA            | the manifest breaks `schemas/manifest.schema.json`          | 2    |
 * | BAD_VERSION       | `version` names a manifest version this backplan lacks      | 2    |
 * | UNSET_VARIABLE    | `${VAR}` without default and VAR is not set                 | 2    |
 * | PROFILE           | the profile (AiiDA config, explicit block) cannot be used   | 2    |
 * | GRAPH             | duplicate step id, unknown `needs`, or a cycle              | 2    |
 * | USAGE             | bad command-line arguments                                  | 2    |
 * | STEP_FAILED       | a step of a run failed                                      | 1    |
 * | COMMAND_FAILED    | a subprocess exited non-zero                                | 1    |
 * | DATABASE          | the database refused or dropped a connection or query       | 1    |
 * | TOOL_VERSION      | pg_dump/pg_restore too old for the server or the dump       | 1    |
 * | SNAPSHOT          | a snapshot is missing, incomplete or inconsistent           | 1    |
 * | VERIFY_FAILED     | a checksum or a restore test did not match                  | 1    |
 * | RESTORE_REFUSED   | a restore's checks failed (target, database, roles, tools)  | 1    |
 * | UNSAFE_ARCHIVE    | an archive entry would land outside the restore target      | 1    |
 * | DISK_FULL         | the destination ran out of space                            | 1    |
 * | STALE             | `check`: newest snapshot too old, or the last run failed    | 1    |
 * | UNLOCK_REFUSED    | `unlock`: the holder may be running (no --force)            | 1    |
 * | LOCKED            | another run holds the destination lock                      | 75   |
 * | INTERRUPTED       | SIGINT (130) or SIGTERM (143)                               | 130, 143 |
 */
export type ErrorCode =
  | 'FILE_NOT_FOUND'
  | 'YAML_SYNTAX'
  | 'SCHEMA'
  | 'BAD_VERSION'
  | 'UNSET_VARIABLE'
  | 'PROFILE'
  | 'GRAPH'
  | 'USAGE'
  | 'STEP_FAILED'
  | 'COMMAND_FAILED'
  | 'DATABASE'
  | 'TOOL_VERSION'
  | 'SNAPSHOT'
  | 'VERIFY_FAILED'
  | 'RESTORE_REFUSED'
  | 'UNSAFE_ARCHIVE'
  | 'DISK_FULL'
  | 'STALE'
  | 'UNLOCK_REFUSED'
  | 'LOCKED'
  | 'INTERRUPTED';

/** A place in a source file; offsets stay internal, line/col (1-based) are for printing. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface ErrorDetails {
  pos?: SourcePos;
  /** What the user can do next. */
  hint?: string;
  /** The step that failed, for run-time errors. */
  step?: string;
  /** The command that failed, rendered with secrets masked. */
  command?: string;
  /** Last lines of the failing command's stderr. */
  stderrTail?: string;
  cause?: unknown;
}

export class BackplanError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'BackplanError';
    this.code = code;
    this.details = details;
  }

  get pos(): SourcePos | undefined {
    return this.details.pos;
  }
}

export function isBackplanError(e: unknown): e is BackplanError {
  return e instanceof BackplanError;
}

/** `file:line:col: message`, then the command, stderr tail and hint on their own lines. */
export function formatError(e: BackplanError): string {
  const { pos, step, command, stderrTail, hint } = e.details;
  const where = pos ? `${pos.file}:${pos.line}:${pos.col}: ` : step ? `step ${step}: ` : '';
  const lines = [`${where}${e.message}`];
  if (command) lines.push(`  command: ${command}`);
  if (stderrTail) lines.push(...stderrTail.trimEnd().split('\n').map((l) => `  | ${l}`));
  if (hint) lines.push(`  hint: ${hint}`);
  return lines.join('\n');
}

/** Several collected errors thrown as one, e.g. every mistake of a manifest. */
export class BackplanErrors extends Error {
  readonly errors: BackplanError[];
  constructor(errors: BackplanError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'BackplanErrors';
    this.errors = errors;
  }
}
