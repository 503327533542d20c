import { BackplanError } from '../errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /([0-9]+)(ms|s|m|h|d|w)/g;
const WHOLE = /^([0-9]+(ms|s|m|h|d|w))+$/;

/** Parses `30d`, `5m`, `1h30m` (the schema's duration pattern) into milliseconds. */
export function parseDuration(text: string): number {
  if (!WHOLE.test(text)) {
    throw new BackplanError('USAGE', `invalid duration "${text}"`, {
      hint: 'write a number and a unit: ms, s, m, h, d or w (e.g. 30d, 12h, 5m, 1h30m)',
    });
  }
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

/** Renders milliseconds compactly for people: 1.2s, 3m04s, 2h05m, 3d04h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}
