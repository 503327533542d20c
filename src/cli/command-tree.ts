/**
 * The CLI as plain data, read from commander's command tree through its `Help` (the same
 * terms, descriptions, choices and defaults `--help` prints), so that the completion scripts
 * and man pages made from it never drift from the CLI.
 */
import type { Argument, Command, Help, Option } from 'commander';

/** What a value may be: one of a list, a file, a folder, or free text (nothing to offer). */
export type ValueKind = { choices: string[] } | 'file' | 'directory' | 'text';

export interface CliOption {
  /** `-V`, `--version`: the short name first. */
  names: string[];
  /** As `--help` shows it, with choices and default. */
  description: string;
  /** Absent for a flag. */
  value?: { name: string; kind: ValueKind };
}

export interface CliArgument {
  name: string;
  description: string;
  required: boolean;
  variadic: boolean;
  kind: ValueKind;
}

export interface CliCommand {
  name: string;
  /** `backplan restore [options] <file> <snapshot>` */
  usage: string;
  description: string;
  arguments: CliArgument[];
  options: CliOption[];
  /** The subcommands, commander's implicit `help` included (marked `implicit`). */
  commands: CliCommand[];
  /** Made by commander rather than by backplan (`help`): it gets no man page. */
  implicit: boolean;
  version?: string;
}

export function commandTree(root: Command): CliCommand {
  const help = root.createHelp();
  const subcommands = help.visibleCommands(root);
  const names = subcommands.map((c) => c.name());
  const node = (cmd: Command, commands: CliCommand[]): CliCommand => ({
    name: cmd.name(),
    usage: help.commandUsage(cmd),
    description: help.commandDescription(cmd),
    arguments: cmd.registeredArguments.map((a) => argument(help, a, names)),
    options: help.visibleOptions(cmd).map((o) => option(help, o)),
    commands,
    implicit: cmd !== root && !root.commands.includes(cmd),
  });
  return { ...node(root, subcommands.map((c) => node(c, []))), version: root.version() };
}

function argument(help: Help, a: Argument, commandNames: string[]): CliArgument {
  return { name: a.name(), description: help.argumentDescription(a), required: a.required, variadic: a.variadic, kind: kindOf(a.name(), a.argChoices, commandNames) };
}

function option(help: Help, o: Option): CliOption {
  const names = [o.short, o.long].filter((n): n is string => n !== undefined);
  const placeholder = /[<[]([^>\]]+?)(?:\.\.\.)?[>\]]/.exec(o.flags)?.[1];
  return { names, description: help.optionDescription(o), ...(placeholder ? { value: { name: placeholder, kind: kindOf(placeholder, o.argChoices, []) } } : {}) };
}

/**
 * Choices when commander knows them; an argument named `command` (`help`, `man`) takes a
 * command's name; otherwise the placeholder says it: `<dir>` a folder, `<file>`, `<files...>`
 * or a file name such as `<config.json>` a file, anything else (`<duration>`, `<profile>`)
 * free text.
 */
function kindOf(name: string, choices: readonly string[] | undefined, commandNames: string[]): ValueKind {
  if (choices) return { choices: [...choices] };
  if (name === 'command' && commandNames.length > 0) return { choices: commandNames };
  if (name === 'dir') return 'directory';
  if (name === 'file' || name === 'files' || name.includes('.')) return 'file';
  return 'text';
}
