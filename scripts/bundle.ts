/**
 * Build step: bundles the CLI (dist/src/cli/program.js and what it imports, node_modules
 * included) into one CommonJS file, dist/bin/program.cjs, started by backplan.cjs
 * (src/cli/main.cts, as tsc wrote it) through V8's code cache, which this step primes.
 *
 * One file rather than ES module chunks: node spent about 70 ms resolving and reading the ~190
 * files `validate` loaded one by one, and about 70 ms more compiling the ~0.8 MB of chunks it
 * then loaded. Node 20 keeps no code cache for ES modules; for a script, vm.Script does. Modules
 * imported where they run still evaluate only when they are imported (esbuild keeps each module
 * in a function of its own), so one file costs a command little more than what it uses. The
 * library (dist/src/index.js) stays unbundled.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const outdir = fileURLToPath(new URL('../bin/', import.meta.url));
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [fileURLToPath(new URL('../src/cli/program.js', import.meta.url))],
  outfile: `${outdir}program.cjs`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // pg's optional native binding, never installed.
  external: ['pg-native'],
  define: {
    // pg asks whether it runs in a Cloudflare Worker by constructing a Response, which makes node
    // load its fetch implementation: 40 ms of every run. Nothing else in the bundle uses Response.
    Response: 'undefined',
    // A CommonJS file has no import.meta; the modules that read it (version.ts, the compiled
    // schema's require) want the file they run from, which is the bundle.
    'import.meta.url': 'bundleUrl',
  },
  banner: { js: "const bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
const launcher = `${outdir}backplan.cjs`;
copyFileSync(fileURLToPath(new URL('../src/cli/main.cjs', import.meta.url)), launcher);
chmodSync(launcher, 0o755);
// The first run writes the code cache with what it compiled: make that a run through the
// manifest stages, not whatever a user happens to run first. Its exit code does not matter: a
// failing run writes the cache too.
spawnSync(process.execPath, [launcher, 'plan', '--offline', fileURLToPath(new URL('../../manifests/aiida-2x-prod.yaml', import.meta.url))], { stdio: 'ignore' });
