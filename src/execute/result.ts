/** What a finished command is (a value, as zx's ProcessOutput) and how a failed one is reported. */
import { BackplanError } from '../errors.js';
import type { ErrorCode, ErrorDetails } from '../errors.js';

export interface CommandResult {
  argv: string[];
  /** null when the process was killed by a signal or could not be started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last 20 lines / 4 KiB of stderr (ring-buffered: never the whole stderr). */
  stderrTail: string;
  durationMs: number;
  /**
   * Bytes the process wrote to stdout, counted where they pass through backplan or land in an
   * output file. Inner pipeline stages feed the next stage inside the kernel: 0 for them, unless
   * a tap routes their stdout through backplan.
   */
  stdoutBytes: number;
  /** The sha256 of those bytes, where a pipeline hashed its output file (PipelineOptions.hashOutput). */
  stdoutSha256?: string;
}

/** A command or pipeline that failed, with what is known about each of its processes. */
export class CommandError extends BackplanError {
  /** The process the failure is attributed to (the last stage when the whole pipeline stopped). */
  readonly result: CommandResult;
  /** That process's index in the pipeline; 0 for run(). */
  readonly stage: number;
  /** Every stage's result, in pipeline order. */
  readonly results: CommandResult[];

  constructor(code: ErrorCode, message: string, details: ErrorDetails, results: CommandResult[], stage: number) {
    super(code, message, details);
    this.results = results;
    this.stage = stage;
    this.result = results[stage]!;
  }
}
