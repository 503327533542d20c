#!/usr/bin/env node
/**
 * The executable. CommonJS, so that `backplan --version` (what a CI job or a package check runs
 * first) answers before node starts its ES module loader, 20 ms over node's own start, and
 * before commander and the command tree are loaded. Everything else is ./program.cjs, the CLI
 * bundled by scripts/bundle.ts, which runs the CLI as it loads.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const [flag, ...rest] = process.argv.slice(2);
if ((flag === '--version' || flag === '-V') && rest.length === 0) process.stdout.write(`${ownVersion()}\n`);
else runCached(join(__dirname, 'program.cjs'));

/**
 * Runs a CommonJS file through V8's code cache, kept beside it as Python keeps its __pycache__:
 * compiling the 1.3 MB bundle took about 70 ms of every start, the cache takes 15. A run that
 * found no cache, or one V8 rejected (another node version, other V8 flags), writes the cache
 * with what it compiled as it exits, where the folder is writable.
 */
function runCached(file: string): void {
  const cacheFile = `${file}.cache`;
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
  // Node's own CommonJS wrapper, so that the file sees what a required file sees.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`;
  const script = new Script(wrapped, { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCache(cacheFile, script));
  const loaded = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(loaded.exports, require, loaded, file, dirname(file));
}

/** Written whole or not at all: runs started together each rename their own complete file. */
function writeCache(cacheFile: string, script: Script): void {
  const temporary = `${cacheFile}.${process.pid}`;
  try {
    writeFileSync(temporary, script.createCachedData());
    renameSync(temporary, cacheFile);
  } catch {
    // A read-only install runs without a cache, as it would have without this function.
    rmSync(temporary, { force: true });
  }
}

/** From the nearest package.json above: backplan's own (version.ts reads the same one for the ES modules). */
function ownVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}
