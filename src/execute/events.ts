/**
 * What a run tells the world, one event at a time (`--json` prints each as one line). Every
 * event carries `v` (EVENTS_VERSION) and `at`; schemas/events.schema.json documents them all,
 * and test/events.test.ts checks real runs against it. A new field is not a new version; a
 * changed or removed one is.
 */
export const EVENTS_VERSION = 1;

export type RunEvent = (
  | { type: 'run-start'; job: string; snapshot: string; kind: string; steps: number; reason?: string }
  | { type: 'step-start'; step: string; kind: string }
  | { type: 'step-progress'; step: string; bytes: number }
  | { type: 'step-log'; step: string; level: 'info' | 'warn'; message: string }
  | {
      type: 'step-end';
      step: string;
      kind: string;
      status: StepStatus;
      durationMs: number;
      bytes?: number;
      error?: string;
      command?: string;
      stderrTail?: string;
    }
  | { type: 'notify'; state: 'start' | 'finish' | 'fail'; ok: boolean; attempts: number; error?: string }
  | { type: 'run-end'; status: 'ok' | 'failed' | 'interrupted' | 'locked'; snapshot?: string; durationMs: number; error?: string }
  /** `run --dry-run --json`: the plan `run` would execute, on one line. */
  | { type: 'plan'; plan: unknown }
  /** A failure before or outside the run (an invalid manifest, a usage mistake), one per error. */
  | { type: 'error'; code: string; message: string; hint?: string; file?: string; line?: number; col?: number }
) & { v: typeof EVENTS_VERSION; at: string };

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'cancelled';

/** Distributes type-specific events to a listener; `v` and `at` are stamped here. */
export type EventSink = (event: DistributiveOmit<RunEvent, 'at' | 'v'>) => void;

export type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export function eventSink(listener: (event: RunEvent) => void): EventSink {
  return (event) => listener({ v: EVENTS_VERSION, ...event, at: new Date().toISOString() } as RunEvent);
}
