/**
 * `backplan man`: one man page per command (backplan-restore(1)…) and backplan(1) for the
 * whole, made from the CLI's command tree, so a page says what `--help` says. The build writes
 * them all to dist/man (`--output-dir`), which package.json's `man` lists for npm to link.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BackplanError } from '../errors.js';
import { commandTree } from './command-tree.js';
import type { CliCommand, CliOption } from './command-tree.js';
import { EXIT } from './exit-codes.js';

const EXIT_MEANINGS: Record<keyof typeof EXIT, string> = {
  ok: 'success',
  failed: 'a step failed, or a check found a problem; the message names the step, the command and its stderr tail',
  invalid: 'invalid manifest or usage; every mistake printed as file:line:col: message',
  locked: 'another run holds the destination lock: try later, or --wait-lock',
  interrupted: 'interrupted by SIGINT (Ctrl-C); the snapshot stays partial and the next run clears it',
  terminated: 'stopped by SIGTERM (systemctl stop, docker stop, kill), as after SIGINT',
};

/** The page of `name` (a command, or undefined for backplan(1)); every page written to `outputDir` instead when given. */
export async function manCommand(root: Command, name: string | undefined, outputDir: string | undefined): Promise<string> {
  const tree = commandTree(root);
  const pages = manPages(tree);
  if (outputDir !== undefined) {
    if (name !== undefined) throw new BackplanError('USAGE', 'give a command or --output-dir, not both');
    await mkdir(outputDir, { recursive: true });
    for (const [file, page] of pages) await writeFile(join(outputDir, file), page);
    return [...pages.keys()].map((file) => join(outputDir, file) + '\n').join('');
  }
  const page = pages.get(name === undefined ? `${tree.name}.1` : `${tree.name}-${name}.1`);
  if (page === undefined) throw new BackplanError('USAGE', `no command ${name}; the commands are ${pageCommands(tree).map((c) => c.name).join(', ')}`);
  return page;
}

/** File name (`backplan-restore.1`) → page, backplan.1 first. */
export function manPages(tree: CliCommand): Map<string, string> {
  return new Map([[`${tree.name}.1`, rootPage(tree)], ...pageCommands(tree).map((c): [string, string] => [`${tree.name}-${c.name}.1`, commandPage(tree, c)])]);
}

function pageCommands(tree: CliCommand): CliCommand[] {
  return tree.commands.filter((c) => !c.implicit);
}

function rootPage(tree: CliCommand): string {
  const commands = pageCommands(tree);
  return [
    header(tree, tree.name),
    '.SH NAME',
    `${text(tree.name)} \\- ${text(tree.description)}`,
    '.SH SYNOPSIS',
    synopsis(tree.usage),
    '.SH DESCRIPTION',
    text(sentence(tree.description)),
    '.PP',
    `Each command has its own page, ${ref(`${tree.name}-COMMAND`)}; \\fB${text(tree.name)}\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR prints the same in brief.`,
    text('The README.md shipped with the package is the full manual.'),
    '.SH COMMANDS',
    ...commands.flatMap((c) => ['.TP', synopsis(c.usage.replace(/^\S+ /, '')), `${text(sentence(c.description))} See ${ref(`${tree.name}-${c.name}`)}.`]),
    ...options(tree.options),
    '.SH EXIT STATUS',
    ...Object.entries(EXIT).flatMap(([key, code]) => ['.TP', `.B ${code}`, text(EXIT_MEANINGS[key as keyof typeof EXIT])]),
    '.SH SEE ALSO',
    commands.map((c) => ref(`${tree.name}-${c.name}`)).join(',\n'),
    '',
  ].join('\n');
}

function commandPage(tree: CliCommand, c: CliCommand): string {
  const name = `${tree.name}-${c.name}`;
  return [
    header(tree, name),
    '.SH NAME',
    `${text(name)} \\- ${text(c.description)}`,
    '.SH SYNOPSIS',
    synopsis(c.usage),
    '.SH DESCRIPTION',
    text(sentence(c.description)),
    ...(c.arguments.length > 0 ? ['.SH ARGUMENTS', ...c.arguments.flatMap((a) => ['.TP', `\\fI${text(a.name)}\\fR${a.variadic ? '...' : ''}`, text(sentence(a.description))])] : []),
    ...options(c.options),
    '.SH SEE ALSO',
    ref(tree.name),
    '',
  ].join('\n');
}

function header(tree: CliCommand, name: string): string {
  // No hyphenation, ragged right: page names and options stay whole, as typed.
  return `.TH ${text(name.toUpperCase())} 1 "" "${text(`${tree.name} ${tree.version ?? ''}`.trim())}" "${text(`${tree.name} manual`)}"\n.nh\n.ad l`;
}

function options(list: CliOption[]): string[] {
  if (list.length === 0) return [];
  const term = (o: CliOption) => o.names.map((n) => `\\fB${text(n)}\\fR`).join(', ') + (o.value ? ` \\fI${text(o.value.name)}\\fR` : '');
  return ['.SH OPTIONS', ...list.flatMap((o) => ['.TP', term(o), text(sentence(o.description))])];
}

/** `backplan restore [options] <file>`: the command in bold, each placeholder in italics. */
function synopsis(usage: string): string {
  const at = usage.search(/ [[<]/);
  const [command, rest] = at < 0 ? [usage, ''] : [usage.slice(0, at), usage.slice(at)];
  const placeholders = text(rest).replace(/<([^>]+)>/g, '\\fI$1\\fR').replace(/\[([^\]]+)\]/g, '[\\fI$1\\fR]');
  return `\\fB${text(command)}\\fR${placeholders}`;
}

const ref = (page: string) => `\\fB${text(page)}\\fR(1)`;

/** A description as a sentence: a capital first (not for a name such as pg_restore or re-hash), a full stop last. */
function sentence(s: string): string {
  const trimmed = s.trim();
  const capital = /^[a-z]+(?=[ ,;:]|$)/.test(trimmed) ? trimmed[0]!.toUpperCase() + trimmed.slice(1) : trimmed;
  return capital + (/[.!?]$|^$/.test(capital) ? '' : '.');
}

/**
 * Text for a roff line: backslashes and hyphens escaped (`\-` stays an ASCII hyphen-minus, so a
 * copied option works), other than ASCII as `\[uXXXX]`, a leading `.` or `'` kept literal.
 */
function text(s: string): string {
  const escaped = s
    .replace(/\s+/g, ' ')
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x20-\x7e]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}
