import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunContext } from './run-context.js';

const INTERVAL_MS = 1000;

/**
 * Emits step-progress with the size of an artefact (a file, or a flat folder such as a
 * directory-format dump) once a second while a step writes it; returns the function that stops.
 */
export function reportProgress(ctx: RunContext, step: string, path: string): () => void {
  let stopped = false;
  const timer = setInterval(() => {
    void sizeOf(path).then((bytes) => {
      if (bytes > 0 && !stopped) ctx.emit({ type: 'step-progress', step, bytes });
    });
  }, INTERVAL_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return info?.size ?? 0;
  const names = await readdir(path).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map((n) => stat(join(path, n)).then((s) => s.size, () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}
