/** Where things are, from the compiled dist/bench/lib/paths.js. */
import { fileURLToPath } from 'node:url';

/** The checkout's bench/ folder (sources and results, not dist/). */
export const BENCH_ROOT = fileURLToPath(new URL('../../../bench/', import.meta.url));

/** The backplan CLI of this build. */
export const CLI = fileURLToPath(new URL('../../bin/backplan.cjs', import.meta.url));
