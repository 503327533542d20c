/** One shell quoting for every command shown to people: plans, dry runs, errors. */

/** A copy-pasteable rendering of argv for people: display only, never executed. */
export function renderCommand(argv: string[]): string {
  return argv.map(quoteArg).join(' ');
}

/** `PGHOST=db pg_dump … | zstd -3 > out` for plans and errors, password masked; display only. */
export function renderPipeline(stages: string[][], opts: { env?: Record<string, string>; password?: boolean; output?: string } = {}): string {
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${quoteArg(v)}`);
  if (opts.password) env.push('PGPASSWORD=***');
  const body = stages.map(renderCommand).join(' | ');
  return [...env, body].join(' ') + (opts.output ? ` > ${quoteArg(opts.output)}` : '');
}

const SAFE_ARG = /^[A-Za-z0-9_@%+=:,./-]+$/;
const CONTROL_CHAR = /[\x00-\x1f\x7f]/;
const CONTROL_CHARS = new RegExp(CONTROL_CHAR.source, 'g');
const CONTROL_ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

function quoteArg(arg: string): string {
  if (SAFE_ARG.test(arg)) return arg;
  // $'…' keeps a newline from breaking the one-line rendering; bash, zsh and ksh read it back.
  if (CONTROL_CHAR.test(arg)) {
    const escaped = arg
      .replace(/[\\']/g, '\\$&')
      .replace(CONTROL_CHARS, (c) => CONTROL_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    return `$'${escaped}'`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
