/**
 * GitHub Actions workflow commands for `validate --format github`: `::error file=…,line=…,col=…::message`,
 * escaped as `@actions/core` escapes them (test/github-annotations.test.ts compares the two and
 * parses ours with a port of the runner's parser).
 */
import type { BackplanError } from '../errors.js';
import { formatError } from '../errors.js';

/** GitHub shows at most this many error annotations per step; the rest only reach the log. */
export const ANNOTATIONS_PER_STEP = 10;

/** A message (the part after `::`): the runner reads `%`, CR and LF escaped. */
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/** A property value: also `:` and `,`, which end a property or the property list. */
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function githubCommand(command: string, properties: Record<string, string | number | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== '')
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
    .join(',');
  return `::${command}${props ? ` ${props}` : ''}::${escapeData(message)}\n`;
}

export function githubAnnotation(e: BackplanError): string {
  const pos = e.pos;
  const message = e.details.hint ? `${e.message} (${e.details.hint})` : e.message;
  return githubCommand('error', { file: pos?.file, line: pos?.line, col: pos?.col }, message);
}

/**
 * Every error of one step as annotations, within GitHub's limit: past it, the last annotation
 * says how many more there are and those follow as plain log lines (file:line:col: message).
 */
export function githubAnnotations(errors: BackplanError[]): string {
  if (errors.length <= ANNOTATIONS_PER_STEP) return errors.map(githubAnnotation).join('');
  const shown = errors.slice(0, ANNOTATIONS_PER_STEP - 1);
  const rest = errors.slice(ANNOTATIONS_PER_STEP - 1);
  const summary = githubCommand(
    'error',
    { title: `${rest.length} more manifest errors` },
    `${rest.length} more errors are listed in this step's log (GitHub shows at most ${ANNOTATIONS_PER_STEP} annotations per step)`,
  );
  return shown.map(githubAnnotation).join('') + summary + rest.map((e) => formatError(e) + '\n').join('');
}
