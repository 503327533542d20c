/** What `backplan --help` says, read from its text: what completion and man pages are held to. */
import { cli } from './profile.js';

/** The commands `backplan --help` lists, `help` included. */
export async function helpCommands(): Promise<string[]> {
  const help = (await cli(['--help'])).stdout;
  return [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!);
}

/** The long options `backplan COMMAND --help` lists. */
export async function helpOptions(command: string): Promise<string[]> {
  const help = (await cli([command, '--help'])).stdout;
  return [...help.slice(help.indexOf('Options:')).matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
}
