/**
 * The one place that reads a destination string and picks its kind (as restic's backend
 * registry does). Adding a kind is a module implementing `Destination` and a line in KINDS.
 */
import { LocalDestination } from './local.js';
import { SshDestination } from './ssh/ssh.js';
import { closeSshConnections, parseRemotePath } from './ssh/transport.js';
import type { Destination } from './types.js';

interface DestinationKind {
  /** The destination, when `spec` is of this kind. */
  open(spec: string, env: NodeJS.ProcessEnv): Destination | undefined;
  /** Ends what this kind kept open for the life of the process (connections). */
  close?(): Promise<void>;
}

/** Tried in order; a local path takes whatever no other kind claims. */
const KINDS: DestinationKind[] = [
  {
    open: (spec, env) => {
      const remote = parseRemotePath(spec);
      return remote && new SshDestination(remote, env);
    },
    close: closeSshConnections,
  },
  { open: (spec) => new LocalDestination(spec) },
];

export function openDestination(spec: string, env: NodeJS.ProcessEnv = process.env): Destination {
  for (const kind of KINDS) {
    const destination = kind.open(spec, env);
    if (destination) return destination;
  }
  throw new Error(`no destination kind takes ${spec}`);
}

/** Called once as the process ends. */
export async function closeDestinations(): Promise<void> {
  await Promise.all(KINDS.map((k) => k.close?.()));
}
