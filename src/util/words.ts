import { BackplanError } from '../errors.js';
import type { Command } from '../manifest.js';

/**
 * Splits a command string into words the way sh does for quoting — '…', "…", backslash —
 * and nothing else: no variables, globs, pipes or `;`. The words run without a shell, so a
 * manifest can never smuggle shell syntax; write [sh, -c, "…"] to ask for a shell.
 */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === '\\' && i + 1 < command.length && (quote === undefined || '"\\$`'.includes(command[i + 1]!))) {
      word = (word ?? '') + command[++i];
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new BackplanError('SCHEMA', `unterminated ${quote} quote in command: ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

export function commandArgv(command: Command): string[] {
  return typeof command === 'string' ? splitWords(command) : command;
}
