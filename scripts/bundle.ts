/**
 * Build step: bundles the CLI (dist/src/cli/program.js and what it imports, node_modules
 * included) into dist/bin/: program.js plus one chunk per lazily imported part, started by
 * backplan.cjs (src/cli/main.cts, as tsc wrote it). Node spent about 70 ms resolving and reading
 * the ~190 files `validate` loaded one by one; bundled, `validate` took 0.14 s against node's
 * own start at 0.07 s on a quiet host. The library (dist/src/index.js) stays unbundled.
 */
import { build } from 'esbuild';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const outdir = fileURLToPath(new URL('../bin/', import.meta.url));
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { program: fileURLToPath(new URL('../src/cli/program.js', import.meta.url)) },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // pg's optional native binding, never installed.
  external: ['pg-native'],
  // pg asks whether it runs in a Cloudflare Worker by constructing a Response, which makes node
  // load its fetch implementation: 40 ms of every run. Nothing else in the bundle uses Response.
  define: { Response: 'undefined' },
  // CommonJS dependencies (pg, commander) call require() for node's own modules.
  banner: { js: "import { createRequire as backplanRequire } from 'node:module'; const require = backplanRequire(import.meta.url);" },
  logLevel: 'warning',
});
const launcher = `${outdir}backplan.cjs`;
copyFileSync(fileURLToPath(new URL('../src/cli/main.cjs', import.meta.url)), launcher);
chmodSync(launcher, 0o755);
