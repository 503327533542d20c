/**
 * The one place that reads a destination string and picks its kind (as restic's backend
 * registry does). Adding a kind is a module implementing `Destination` and a line in KINDS.
 */
import { BackplanError } from '../errors.js';
import { LocalDestination } from './local/local.js';
import { RcloneDestination } from './rclone/rclone.js';
import { stopRcDaemons } from './rclone/daemon.js';
import { parseRcloneSpec } from './rclone/remote.js';
import { SshDestination } from './ssh/ssh.js';
import { closeSshConnections, parseRemotePath } from './ssh/transport.js';
import type { Destination } from './types.js';

interface DestinationKind {
  /** Whether `spec` names a destination of this kind. */
  claims(spec: string): boolean;
  open(spec: string, env: NodeJS.ProcessEnv): Destination;
  /** Ends what this kind kept open for the life of the process (connections). */
  close?(): Promise<void>;
  /** Why `spec`, though of this kind, cannot be used; undefined when it can. */
  problem?(spec: string): string | undefined;
  /** Repository strategies it cannot take, and the ones it can, for the message. */
  strategies?: { refused: string[]; taken: string[] };
}

/** Tried in order; a local path takes whatever no other kind claims. */
const KINDS: DestinationKind[] = [
  {
    claims: (spec) => parseRcloneSpec(spec) !== undefined,
    open: (spec, env) => {
      const parsed = parseRcloneSpec(spec)!;
      if ('problem' in parsed) throw new BackplanError('USAGE', parsed.problem, { hint: 'name a remote from `rclone listremotes`' });
      return new RcloneDestination(parsed, env);
    },
    close: stopRcDaemons,
    problem: (spec) => {
      const parsed = parseRcloneSpec(spec);
      return parsed && 'problem' in parsed ? parsed.problem : undefined;
    },
    // rsync writes a folder tree in place; object storage has no such thing.
    strategies: { refused: ['rsync'], taken: ['tar', 'incremental'] },
  },
  {
    claims: (spec) => parseRemotePath(spec) !== undefined,
    open: (spec, env) => new SshDestination(parseRemotePath(spec)!, env),
    close: closeSshConnections,
  },
  { claims: () => true, open: (spec) => new LocalDestination(spec) },
];

function kindOf(spec: string): DestinationKind {
  return KINDS.find((k) => k.claims(spec))!;
}

export function openDestination(spec: string, env: NodeJS.ProcessEnv = process.env): Destination {
  return kindOf(spec).open(spec, env);
}

/** What validate reports of a destination string: a problem with it, or a strategy its kind refuses. */
export function destinationProblems(spec: string, strategy: string): { key: 'destination' | 'strategy'; message: string; hint: string }[] {
  const kind = kindOf(spec);
  const problem = kind.problem?.(spec);
  if (problem) return [{ key: 'destination', message: problem, hint: 'name a remote that `rclone listremotes` shows, defined in rclone\'s config or by RCLONE_CONFIG_<NAME>_* variables' }];
  if (!kind.strategies?.refused.includes(strategy)) return [];
  const taken = kind.strategies.taken.join(' or ');
  return [
    {
      key: 'strategy',
      message: `repository.strategy ${strategy} needs a filesystem, which ${spec} is not: use ${taken} (they stream archives to the destination)`,
      hint: `set repository.strategy to ${taken}, or write to a local path or user@host:/path`,
    },
  ];
}

/** Called once as the process ends. */
export async function closeDestinations(): Promise<void> {
  await Promise.all(KINDS.map((k) => k.close?.()));
}
