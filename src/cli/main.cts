#!/usr/bin/env node
/**
 * The executable. CommonJS, so that `backplan --version` (what a CI job or a package check runs
 * first) answers before node starts its ES module loader, 20 ms over node's own start, and
 * before commander and the command tree are loaded. Everything else is the ES module
 * ./program.js, which runs the CLI as it loads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [flag, ...rest] = process.argv.slice(2);
if ((flag === '--version' || flag === '-V') && rest.length === 0) process.stdout.write(`${ownVersion()}\n`);
else void import('./program.js');

/** From the nearest package.json above: backplan's own (version.ts reads the same one for the ES modules). */
function ownVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}
