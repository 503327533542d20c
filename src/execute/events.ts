/** What a run tells the world, one event at a time (`--json` prints each as one line). */
export type RunEvent =
  | { type: 'run-start'; at: string; job: string; snapshot: string; kind: string; steps: number; reason?: string }
  | { type: 'step-start'; at: string; step: string; kind: string }
  | { type: 'step-progress'; at: string; step: string; bytes: number }
  | { type: 'step-log'; at: string; step: string; level: 'info' | 'warn'; message: string }
  | {
      type: 'step-end';
      at: string;
      step: string;
      kind: string;
      status: StepStatus;
      durationMs: number;
      bytes?: number;
      error?: string;
      command?: string;
      stderrTail?: string;
    }
  | { type: 'notify'; at: string; state: 'start' | 'finish' | 'fail'; ok: boolean; attempts: number; error?: string }
  | { type: 'run-end'; at: string; status: 'ok' | 'failed' | 'interrupted' | 'locked'; snapshot?: string; durationMs: number; error?: string };

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'cancelled';

/** Distributes type-specific events to a listener; `at` is stamped here. */
export type EventSink = (event: DistributiveOmit<RunEvent, 'at'>) => void;

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export function eventSink(listener: (event: RunEvent) => void): EventSink {
  return (event) => listener({ ...event, at: new Date().toISOString() } as RunEvent);
}
