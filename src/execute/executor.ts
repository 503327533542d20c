import { performance } from 'node:perf_hooks';
import { BackplanError } from '../errors.js';
import type { PlannedStep } from '../plan/types.js';
import type { StepRecord } from '../record/snapshot-record.js';
import { formatDuration } from '../util/duration.js';
import type { EventSink, StepStatus } from './events.js';
import { CommandError } from './result.js';

/** What a step's run hands back; the executor adds status and duration. */
export interface StepOutcome {
  bytes?: number;
  exitCode?: number | null;
}

export type StepRunner = (step: PlannedStep, signal: AbortSignal) => Promise<StepOutcome | void>;

export interface ExecuteOptions {
  runStep: StepRunner;
  concurrency: number;
  /** Aborting (SIGINT/SIGTERM) cancels running steps; `always` steps still run afterwards. */
  signal: AbortSignal;
  emit: EventSink;
  /** Called as each step settles, in settling order (db-snapshot releases its hold this way). */
  onSettled?: (step: PlannedStep, record: StepRecord) => void;
  /**
   * Whether an `always` step may run at this point; default yes. A run that never took its lock
   * must not run its always after-hooks (`verdi daemon start` in the middle of the holder's run).
   */
  alwaysRuns?: (step: PlannedStep) => boolean;
}

export interface ExecuteResult {
  records: StepRecord[];
  /** The first failure, which decides the run's exit code. */
  failure?: BackplanError;
}

/**
 * Runs a checked DAG: a step starts when its needs are done and a slot is free. After the
 * first failure (or an interrupt) nothing new starts except `always` steps, and running steps
 * are cancelled; a step whose needs did not all succeed is skipped unless it is `always`.
 */
export async function executeDag(steps: PlannedStep[], opts: ExecuteOptions): Promise<ExecuteResult> {
  const status = new Map<string, StepStatus | 'running'>();
  const records = new Map<string, StepRecord>();
  const running = new Map<string, AbortController>();
  let failure: BackplanError | undefined;
  let wake: () => void = () => undefined;

  const stopEverything = () => {
    for (const [id, controller] of running) if (!stepById(steps, id).always) controller.abort();
  };
  opts.signal.addEventListener('abort', stopEverything, { once: true });

  const settle = (step: PlannedStep, record: StepRecord) => {
    status.set(step.id, record.status);
    records.set(step.id, record);
    opts.onSettled?.(step, record);
  };

  const start = (step: PlannedStep) => {
    const controller = new AbortController();
    running.set(step.id, controller);
    status.set(step.id, 'running');
    void runOne(step, controller, opts).then(({ record, error }) => {
      running.delete(step.id);
      // A step cancelled because another failed is not the cause; one cancelled by SIGINT is.
      if (error && !failure && (record.status === 'failed' || opts.signal.aborted)) {
        failure = record.status === 'failed' ? error : new BackplanError('INTERRUPTED', 'interrupted', { step: step.id });
      }
      settle(step, record);
      if (record.status === 'failed') stopEverything();
      wake();
    });
  };

  for (;;) {
    const halted = failure !== undefined || opts.signal.aborted;
    for (const step of steps) {
      if (status.has(step.id)) continue;
      const needs = step.needs.map((n) => status.get(n));
      if (needs.some((s) => s === undefined || s === 'running')) continue;
      const needsOk = needs.every((s) => s === 'ok');
      const always = step.always && (opts.alwaysRuns?.(step) ?? true);
      if (always || (needsOk && !halted)) {
        if (running.size < opts.concurrency) start(step);
      } else {
        settle(step, { id: step.id, kind: step.kind, status: 'skipped', durationMs: 0 });
        opts.emit({ type: 'step-end', step: step.id, kind: step.kind, status: 'skipped', durationMs: 0 });
      }
    }
    if (running.size === 0 && steps.every((s) => status.has(s.id) && status.get(s.id) !== 'running')) break;
    await new Promise<void>((resolve) => (wake = resolve));
  }
  opts.signal.removeEventListener('abort', stopEverything);
  return { records: steps.map((s) => records.get(s.id)!), failure };
}

async function runOne(step: PlannedStep, controller: AbortController, opts: ExecuteOptions): Promise<{ record: StepRecord; error?: BackplanError }> {
  const started = performance.now();
  opts.emit({ type: 'step-start', step: step.id, kind: step.kind });
  const timer = step.timeoutMs ? setTimeout(() => controller.abort(timeoutReason(step)), step.timeoutMs) : undefined;
  try {
    const outcome = (await opts.runStep(step, controller.signal)) ?? {};
    const record: StepRecord = { id: step.id, kind: step.kind, status: 'ok', durationMs: elapsedMs(started), ...outcome };
    opts.emit({ type: 'step-end', step: step.id, kind: step.kind, status: 'ok', durationMs: record.durationMs, bytes: outcome.bytes });
    return { record };
  } catch (e) {
    const error = asStepError(step, e, controller.signal);
    const cancelled = controller.signal.aborted && !(controller.signal.reason instanceof BackplanError);
    const record: StepRecord = {
      id: step.id,
      kind: step.kind,
      status: cancelled ? 'cancelled' : 'failed',
      durationMs: elapsedMs(started),
      stderrTail: error.details.stderrTail,
    };
    opts.emit({
      type: 'step-end',
      step: step.id,
      kind: step.kind,
      status: record.status,
      durationMs: record.durationMs,
      error: error.message,
      command: error.details.command,
      stderrTail: error.details.stderrTail,
    });
    return { record, error };
  } finally {
    clearTimeout(timer);
  }
}

/** Whole milliseconds, as every event and record carries them. */
function elapsedMs(started: number): number {
  return Math.round(performance.now() - started);
}

function timeoutReason(step: PlannedStep): BackplanError {
  // Printed after "step <id>: ", as every step error is.
  return new BackplanError('STEP_FAILED', `timed out after ${formatDuration(step.timeoutMs!)}`, {
    step: step.id,
    hint: 'raise its timeout in the manifest, or find out why it is slow',
  });
}

/** A step's error, naming the step; a timeout reads as one rather than as an interrupt. */
function asStepError(step: PlannedStep, e: unknown, signal: AbortSignal): BackplanError {
  if (signal.aborted && signal.reason instanceof BackplanError) {
    // A timeout: with the command it killed and what that had printed.
    const command = e instanceof BackplanError ? e.details.command : undefined;
    const stderrTail = e instanceof CommandError ? e.results.map((r) => r.stderrTail).filter(Boolean).join('\n') || undefined : undefined;
    return new BackplanError(signal.reason.code, signal.reason.message, { ...signal.reason.details, command, stderrTail });
  }
  if (e instanceof BackplanError) {
    return e.details.step ? e : new BackplanError(e.code, e.message, { ...e.details, step: step.id });
  }
  return new BackplanError('STEP_FAILED', (e as Error)?.message ?? String(e), { step: step.id, cause: e });
}

function stepById(steps: PlannedStep[], id: string): PlannedStep {
  return steps.find((s) => s.id === id)!;
}
