import { BackplanError } from '../errors.js';
import type { SourcePos } from '../errors.js';

/** Where a manifest key's value sits, so errors can point at `file:line:col`. */
export type PositionOf = (path: (string | number)[]) => SourcePos | undefined;

export interface ResolveContext {
  env: NodeJS.ProcessEnv;
  positionOf: PositionOf;
}

export function profileError(message: string, pos: SourcePos | undefined, hint?: string): BackplanError {
  return new BackplanError('PROFILE', message, hint === undefined ? { pos } : { pos, hint });
}

/** An empty variable means "unset" to libpq, so it must not override a configured value. */
export function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
