/**
 * How a child gets its own process group. Node offers only `detached`, which calls setsid(2): a
 * new session, and with it a new scheduler autogroup (Linux's default), so that every stage of a
 * pipeline competes for the CPU as if it were a separate login. A pg_dump | zstd of a 470 MB
 * database took 1.6 s that way against 1.3 s for the same pipeline run by a shell, whose stages
 * share its session. So a stage is started through perl's setpgid(2) instead, which keeps the
 * session; where perl is missing, through setsid as before.
 */
import { execTarget } from './pg-wrapper.js';
import { resolveCommand } from './which.js';

/**
 * setpgid(0, 0), then exec. Ignoring SIGTTIN and SIGTTOU (ignored signals survive exec) keeps
 * what setsid gave: a stage that opens the terminal to prompt gets an error instead of being
 * stopped, since its group is not the terminal's foreground group. A failed exec exits 127 as a
 * shell's would. (`exec … or`: a statement after a bare exec makes perl -w, as PERL5OPT may ask,
 * warn on every spawn.)
 */
const LAUNCHER = '$SIG{TTIN} = $SIG{TTOU} = "IGNORE"; setpgrp(0, 0); my $p = shift; exec { $p } @ARGV or print STDERR "$p: $!\\n"; exit 127';

export interface GroupSpawn {
  command: string;
  args: string[];
  /** Node's setsid, for the fallback. */
  detached: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * The spawn that runs `argv` in a new process group of this session (through `perl`, by default
 * the one on PATH). A command that cannot be found is spawned as it is, detached, so that node
 * reports ENOENT for it as before. Debian's pg_wrapper is skipped where its choice is plain
 * (pg-wrapper.ts execTarget).
 */
export function ownGroupSpawn(argv: string[], env: NodeJS.ProcessEnv, perl = perlPath()): GroupSpawn {
  const [name, ...rest] = argv as [string, ...string[]];
  const { program, argv0, env: childEnv } = execTarget(name, rest, env);
  if (!perl || !program) return { command: argv0, args: rest, detached: true, env: childEnv };
  return { command: perl, args: ['-e', LAUNCHER, program, argv0, ...rest], detached: false, env: childEnv };
}

let perlFound: string | null | undefined;

/** perl from this process's PATH, looked up once; null without one. */
export function perlPath(): string | null {
  perlFound ??= resolveCommand('perl', process.env.PATH) ?? null;
  return perlFound;
}
