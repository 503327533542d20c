/**
 * `backplan completion bash|zsh|fish`: a completion script made from the CLI's command tree, so
 * it offers exactly the commands, options, choices and kinds of value the CLI takes. The
 * scripts hold the tree itself: completing a word never starts node.
 */
import type { Command } from 'commander';
import { commandTree } from './command-tree.js';
import type { CliArgument, CliCommand, ValueKind } from './command-tree.js';

export type Shell = 'bash' | 'zsh' | 'fish';

export function completionScript(shell: Shell, root: Command): string {
  const tree = commandTree(root);
  const note = `# ${shell} completion for ${tree.name} ${tree.version ?? ''}, made by \`${tree.name} completion ${shell}\`: make it again after an upgrade.\n`;
  const script = { bash, zsh, fish }[shell](tree);
  // zsh reads a completion file's first line for its #compdef tag.
  return shell === 'zsh' ? script.replace('\n', `\n${note}`) : note + script;
}

/** A word for a POSIX shell (bash, zsh): single-quoted. */
const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function bash(tree: CliCommand): string {
  const fn = `_${tree.name.replace(/\W/g, '_')}`;
  const action = (kind: ValueKind) => (typeof kind === 'object' ? `${fn}_complete words ${sq(kind.choices.join(' '))}` : `${fn}_complete ${kind}`);
  const valued = (c: CliCommand) => c.options.filter((o) => o.value).flatMap((o) => o.names);
  const positional = (args: CliArgument[]) =>
    args.map((a, i) => `        ${a.variadic ? '*' : i}) ${action(a.kind)} ;;`);
  const arms = tree.commands.map((c) =>
    [
      `    ${c.name})`,
      `      case $prev in`,
      ...c.options.flatMap((o) => (o.value ? [`        ${o.names.join('|')}) ${action(o.value.kind)}; return 0 ;;`] : [])),
      `      esac`,
      `      if [[ $cur == -* ]]; then ${action({ choices: c.options.flatMap((o) => o.names) })}; return 0; fi`,
      `      case $position in`,
      ...positional(c.arguments),
      `      esac ;;`,
    ].join('\n'),
  );
  return `
${fn}_reply() {
  COMPREPLY=()
  local line
  while IFS= read -r line; do COMPREPLY+=("$line"); done
}

${fn}_complete() {
  case $1 in
    words) ${fn}_reply < <(compgen -W "$2" -- "$cur") ;;
    file) compopt -o filenames 2>/dev/null; ${fn}_reply < <(compgen -f -- "$cur") ;;
    directory) compopt -o filenames 2>/dev/null; ${fn}_reply < <(compgen -d -- "$cur") ;;
    *) COMPREPLY=() ;;
  esac
}

# Whether option $2 of command $1 takes the next word as its value.
${fn}_takes_value() {
  case $1 in
${tree.commands
  .filter((c) => valued(c).length > 0)
  .map((c) => `    ${c.name}) case $2 in ${valued(c).join('|')}) return 0 ;; esac ;;`)
  .join('\n')}
  esac
  return 1
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  # COMP_WORDBREAKS holds =, so --format=json arrives as three words: --format, =, json.
  if [[ $cur == = ]]; then cur=; elif [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  local command= position=0 word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ -z $command ]]; then
      [[ $word == -* ]] || command=$word
    elif [[ $word == = ]]; then
      i=$((i + 1))
    elif [[ $word == -* ]]; then
      if [[ \${COMP_WORDS[i+1]} != = ]] && ${fn}_takes_value "$command" "$word"; then i=$((i + 1)); fi
    else
      position=$((position + 1))
    fi
  done
  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then ${action({ choices: tree.options.flatMap((o) => o.names) })}
    else ${action({ choices: tree.commands.map((c) => c.name) })}; fi
    return 0
  fi
  case $command in
${arms.join('\n')}
  esac
  return 0
}

complete -F ${fn} ${tree.name}
`;
}

function zsh(tree: CliCommand): string {
  const fn = `_${tree.name.replace(/\W/g, '_')}`;
  const explain = (s: string) => `[${s.replace(/[\\[\]]/g, '\\$&')}]`;
  const message = (s: string) => s.replace(/[\\:]/g, '\\$&');
  const action = (kind: ValueKind) =>
    typeof kind === 'object' ? `(${kind.choices.map((c) => c.replace(/[\\\s()]/g, '\\$&')).join(' ')})` : { file: '_files', directory: '_files -/', text: ' ' }[kind];
  const options = (c: CliCommand) =>
    c.options.flatMap((o) =>
      o.names.map((n) => sq(o.value ? `${n}=${explain(o.description)}:${message(o.value.name)}:${action(o.value.kind)}` : `${n}${explain(o.description)}`)),
    );
  const positional = (a: CliArgument, i: number) => sq(`${a.variadic ? '*' : i + 1}:${a.required || a.variadic ? '' : ':'}${message(a.name)}:${action(a.kind)}`);
  const specs = (c: CliCommand) => [...options(c), ...c.arguments.map(positional)].map((s) => `          ${s}`).join(' \\\n');
  return `#compdef ${tree.name}

${fn}() {
  local curcontext=$curcontext state line
  local -a commands
  commands=(
${tree.commands.map((c) => `    ${sq(`${c.name.replaceAll(':', '\\:')}:${c.description}`)}`).join('\n')}
  )
  _arguments -C \\
${options(tree).map((s) => `    ${s} \\`).join('\n')}
    '1: :->command' \\
    '*:: :->argument'
  case $state in
    command) _describe -t commands ${sq(`${tree.name} command`)} commands ;;
    argument)
      case $words[1] in
${tree.commands.map((c) => `        ${c.name}) _arguments \\\n${specs(c)} ;;`).join('\n')}
      esac ;;
  esac
}

# Autoloaded from a folder of $fpath, the file is the function's body; sourced, it registers it.
if [[ $funcstack[1] == ${fn} ]]; then ${fn} "$@"; else compdef ${fn} ${tree.name}; fi
`;
}

function fish(tree: CliCommand): string {
  const q = (s: string) => `'${s.replace(/[\\']/g, '\\$&')}'`;
  const names = (n: string[]) => n.map((x) => (x.startsWith('--') ? `-l ${x.slice(2)}` : `-s ${x.slice(1)}`)).join(' ');
  // -a: the candidates; -x: a value that is no file; -r -F: a file.
  const offer = (kind: ValueKind) => (typeof kind === 'object' ? `-a ${q(kind.choices.join(' '))}` : kind === 'directory' ? "-a '(__fish_complete_directories)'" : '');
  const value = (kind: ValueKind) => (kind === 'file' ? '-r -F' : `-x ${offer(kind)}`.trimEnd());
  const line = (condition: string, rest: string) => `complete -c ${tree.name} -n ${q(condition)} ${rest}`;
  const lines = [
    ...tree.options.map((o) => line('__fish_use_subcommand', `-f ${names(o.names)} -d ${q(o.description)}`)),
    ...tree.commands.map((c) => line('__fish_use_subcommand', `-f -a ${c.name} -d ${q(c.description)}`)),
    ...tree.commands.flatMap((c) => {
      const when = `__fish_seen_subcommand_from ${c.name}`;
      const args = c.arguments.map((a) => a.kind);
      return [
        ...c.options.map((o) => line(when, `${names(o.names)}${o.value ? ` ${value(o.value.kind)}` : ''} -d ${q(o.description)}`)),
        ...args.filter((k) => offer(k) !== '').map((k) => line(when, `-f ${offer(k)}`)),
        // Files are fish's default: only a command that takes none turns them off.
        ...(args.includes('file') ? [] : [line(when, '-f')]),
      ];
    }),
  ];
  return lines.join('\n') + '\n';
}
