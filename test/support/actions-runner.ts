/**
 * How the GitHub Actions runner reads a workflow command line: a TypeScript port of
 * `ActionCommand.TryParseV2` (actions/runner, src/Runner.Common/ActionCommand.cs). Kept
 * literal, quirks included: properties are split at every `,`, a pair at its first `=`, and
 * escapes are undone one mapping at a time in the runner's order (`%25` last).
 */
export interface ParsedCommand {
  command: string;
  properties: Record<string, string>;
  data: string;
}

const COMMAND_KEY = '::';
const PROPERTY_ESCAPES: [token: string, replacement: string][] = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  [':', '%3A'],
  [',', '%2C'],
  ['%', '%25'],
];
const DATA_ESCAPES: [token: string, replacement: string][] = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  ['%', '%25'],
];

const unescape = (s: string, mappings: [string, string][]) => mappings.reduce((out, [token, replacement]) => out.split(replacement).join(token), s);

/** The command of one output line, or undefined where the runner would see a plain log line. */
export function parseWorkflowCommand(line: string, registered = new Set(['error', 'warning', 'notice'])): ParsedCommand | undefined {
  const message = line.trimStart();
  if (!message.startsWith(COMMAND_KEY)) return undefined;
  const end = message.indexOf(COMMAND_KEY, COMMAND_KEY.length);
  if (end < 0) return undefined;
  const info = message.slice(COMMAND_KEY.length, end);
  const space = info.indexOf(' ');
  const command = space < 0 ? info : info.slice(0, space);
  if (!registered.has(command)) return undefined;
  const properties: Record<string, string> = {};
  if (space > 0) {
    for (const property of info.slice(space + 1).trim().split(',').filter(Boolean)) {
      const at = property.indexOf('=');
      // C#'s Split('=', 2, RemoveEmptyEntries): a pair needs a non-empty key and value.
      const pair = at < 0 ? [property] : [property.slice(0, at), property.slice(at + 1)].filter(Boolean);
      if (pair.length === 2) properties[pair[0]!] = unescape(pair[1]!, PROPERTY_ESCAPES);
    }
  }
  return { command, properties, data: unescape(message.slice(end + COMMAND_KEY.length), DATA_ESCAPES) };
}
