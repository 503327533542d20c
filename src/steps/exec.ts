import type { Command } from '../manifest.js';
import type { PlannedStep } from '../plan/types.js';
import { renderPipeline } from '../execute/render.js';
import { commandArgv } from '../util/words.js';
import { parseDuration } from '../util/duration.js';
import { run } from '../execute/subprocess.js';
import type { StepRun } from './run-context.js';

/** A user command: a hook (`hooks.before/after`) or an extra step (`steps:`). */
export interface ExecOptions {
  argv: string[];
}

export interface CommandSpec {
  id: string;
  run: Command;
  always?: boolean;
  timeout?: string;
}

export function planCommand(kind: 'hook' | 'exec', spec: CommandSpec, needs: string[]): PlannedStep<ExecOptions> {
  const argv = commandArgv(spec.run);
  return {
    id: spec.id,
    kind,
    needs,
    always: spec.always ?? false,
    timeoutMs: spec.timeout === undefined ? undefined : parseDuration(spec.timeout),
    summary: kind === 'hook' ? `hook: ${argv[0]}` : `run ${argv[0]}`,
    commands: [renderPipeline([argv])],
    options: { argv },
  };
}

/** Runs a hook or user step without a shell; it learns the snapshot through BACKPLAN_* variables. */
export const runCommand: StepRun<ExecOptions> = async (step, ctx, signal) => {
  const log = (level: 'info' | 'warn') => (line: string) => ctx.emit({ type: 'step-log', step: step.id, level, message: line });
  const env = {
    BACKPLAN_JOB: ctx.plan.manifest.name,
    BACKPLAN_DESTINATION: ctx.plan.destination,
    BACKPLAN_SNAPSHOT: ctx.plan.snapshot.id,
    BACKPLAN_SNAPSHOT_DIR: ctx.plan.snapshot.dir,
  };
  const result = await run(step.options.argv, { signal, env, onStderrLine: log('warn'), stdout: 'capture' });
  for (const line of (result.stdout ?? '').split('\n').filter(Boolean).slice(-20)) log('info')(line);
  return { exitCode: result.exitCode };
};
