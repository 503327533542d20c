/**
 * Build step: writes the man pages to dist/man (backplan.1, backplan-COMMAND.1) through the
 * built CLI's `man --output-dir`, after removing the old ones so that a removed command leaves
 * no page behind. It runs the CLI rather than importing its command tree because
 * src/cli/program.ts builds the tree and parses argv in one go. package.json's `man` lists the
 * pages, and npm links them into PREFIX/share/man/man1 on a global install.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../man/', import.meta.url));
rmSync(dir, { recursive: true, force: true });
execFileSync(process.execPath, [fileURLToPath(new URL('../bin/backplan.cjs', import.meta.url)), 'man', '--output-dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
