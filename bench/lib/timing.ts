/**
 * Timing: wall clock around a promise, medians, and interleaved rounds, so that background
 * load drifting during a benchmark hits backplan and the plain tools alike.
 */
import { performance } from 'node:perf_hooks';

/** Named durations in ms that one measurement reports. */
export type Figures = Record<string, number>;

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** A measurement that is only its wall time. */
export function wall(name: string, fn: () => Promise<unknown>): () => Promise<Figures> {
  return async () => ({ [name]: await timeMs(fn) });
}

/**
 * Runs the parts at the same time and reports each part's own time and, as `name`, the time
 * until the last one ended (plus whatever `then` does after all have ended, e.g. a sync).
 */
export async function concurrently(name: string, parts: Record<string, () => Promise<unknown>>, then?: () => Promise<unknown>): Promise<Figures> {
  const start = performance.now();
  const figures: Figures = {};
  await Promise.all(Object.entries(parts).map(async ([part, fn]) => (figures[part] = await timeMs(fn))));
  if (then) await then();
  figures[name] = performance.now() - start;
  return figures;
}

export interface RoundOptions {
  repeats: number;
  /** Untimed rounds first (caches, binaries); default 0. */
  warmup?: number;
  log?: (line: string) => void;
  /**
   * Each timed round starts one measurement later than the last (independent measurements
   * only): on a disk that slows after the first heavy job of a round, the same job no longer
   * always comes first.
   */
  rotate?: boolean;
}

/**
 * `warmup` untimed rounds, then `repeats` rounds; each round runs every measurement once, in
 * order (told whether the round is a warm-up). Returns every figure's values over the timed rounds.
 */
export async function rounds(o: RoundOptions, measurements: ((warmup: boolean) => Promise<Figures>)[]): Promise<Record<string, number[]>> {
  const runs: Record<string, number[]> = {};
  const warmup = o.warmup ?? 0;
  for (let round = 1 - warmup; round <= o.repeats; round++) {
    o.log?.(round < 1 ? 'warm-up round' : `round ${round}/${o.repeats}`);
    const first = o.rotate && round > 0 ? (round - 1) % measurements.length : 0;
    for (const measure of [...measurements.slice(first), ...measurements.slice(0, first)]) {
      const figures = await measure(round < 1);
      o.log?.(`  ${Object.entries(figures).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s`).join(', ')}`);
      if (round < 1) continue;
      for (const [name, value] of Object.entries(figures)) (runs[name] ??= []).push(value);
    }
  }
  return runs;
}
