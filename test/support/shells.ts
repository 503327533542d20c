/** Completion asked of the real shells, for the scripts `backplan completion` prints. */
import { execFile } from 'node:child_process';

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runShell(command: string, args: string[], cwd?: string): Promise<ShellResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * What bash offers for `words`, the last being the word under the cursor: the script sourced in
 * `bash --norc`, then the function its `complete -F` registered for backplan called as bash
 * calls it (COMP_WORDS, COMP_CWORD, COMP_LINE; the command, the word and the one before as
 * arguments), COMPREPLY read back. Words are split as readline splits them: `--format=json` is
 * three words, `--format`, `=`, `json`.
 */
export async function bashCompletions(script: string, words: string[], cwd?: string): Promise<string[]> {
  const program = `
source "$1" || exit 1
spec=$(complete -p backplan) || exit 1
fn=\${spec#*-F }; fn=\${fn%% *}
COMP_WORDS=("\${@:2}"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
"$fn" backplan "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const r = await runShell('bash', ['--norc', '--noprofile', '-c', program, 'bash', script, ...words], cwd);
  if (r.code !== 0 || r.stderr !== '') throw new Error(`bash completion of ${JSON.stringify(words)} failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** What fish offers for a command line (`complete -C`), the candidates without descriptions. */
export async function fishCompletions(script: string, line: string, cwd?: string): Promise<string[]> {
  const r = await runShell('fish', ['--no-config', '-c', 'source $argv[1]; and complete -C $argv[2]', script, line], cwd);
  if (r.code !== 0 || r.stderr !== '') throw new Error(`fish completion of ${JSON.stringify(line)} failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
}
