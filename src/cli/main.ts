#!/usr/bin/env node
/**
 * The executable. `backplan --version` (what a CI job or a package check runs first) answers
 * before commander and the command tree are loaded: it costs node's own start and no more.
 * Everything else is ./program.ts.
 */
import { TOOL_VERSION } from '../version.js';

const [flag, ...rest] = process.argv.slice(2);
if ((flag === '--version' || flag === '-V') && rest.length === 0) process.stdout.write(`${TOOL_VERSION}\n`);
else await import('./program.js');
