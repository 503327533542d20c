/**
 * The rclone client of `rclone:REMOTE:PATH` destinations. Every call is the `rclone` binary with
 * an argv array; the remote is a name from rclone's own config file or its `RCLONE_CONFIG_<NAME>_*`
 * environment, so credentials never appear in a manifest, an argv or a log line. Connection
 * strings (`:s3,access_key_id=…:`) are refused for that reason.
 */
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { BackplanError } from '../../errors.js';
import { CommandError } from '../../execute/result.js';
import { run } from '../../execute/subprocess.js';

/** A folder on an rclone remote: `rclone:REMOTE:PATH`. */
export interface RclonePath {
  remote: string;
  path: string;
}

const PREFIX = 'rclone:';
/** A remote name as rclone's config allows it; no `:backend,option=…` connection strings. */
const REMOTE = /^[A-Za-z0-9_][A-Za-z0-9_.+@-]*$/;

/** Undefined for a spec that is not `rclone:…`; a problem for one that is but cannot be used. */
export function parseRcloneSpec(spec: string): RclonePath | { problem: string } | undefined {
  if (!spec.startsWith(PREFIX)) return undefined;
  const rest = spec.slice(PREFIX.length);
  const colon = rest.indexOf(':');
  const remote = colon < 0 ? rest : rest.slice(0, colon);
  if (colon < 0 || !REMOTE.test(remote)) {
    return {
      // The string is not repeated: a connection string may hold a credential.
      problem: `the destination is no rclone:REMOTE:PATH with REMOTE a remote named in rclone's config (letters, digits, _ . + @ -); connection strings (rclone::backend,option=…:) are refused, as they would put credentials in the manifest`,
    };
  }
  return { remote, path: rest.slice(colon + 1) };
}

export function rcloneSpec(p: RclonePath): string {
  return `${PREFIX}${p.remote}:${p.path}`;
}

/** rclone's exit codes for "directory not found" and "file not found". */
const NOT_FOUND = [3, 4];

export interface RcloneRunOptions {
  stdin?: Readable;
  stdout?: Writable | 'ignore';
  signal?: AbortSignal;
  /** Not-found exits resolve (with their code) instead of failing. */
  missingOk?: boolean;
}

/** One rclone binary and remote; paths relative to the destination's root. */
export class Rclone {
  constructor(
    readonly root: RclonePath,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** `REMOTE:ROOT/path` as rclone names it. */
  target(path = ''): string {
    return `${this.root.remote}:${path === '' ? this.root.path : posix.join(this.root.path, path)}`;
  }

  /** `rclone ARGS…`: quiet (errors still on stderr), few retries: a backup from cron must fail, not hang. */
  argv(args: string[]): string[] {
    return ['rclone', '--quiet', '--retries', '1', '--low-level-retries', '3', '--contimeout', '10s', ...args];
  }

  async run(args: string[], opts: RcloneRunOptions = {}): Promise<{ exitCode: number; stdout: string }> {
    // Collected whole (run's capture keeps 1 MiB): a listing of a long history is larger.
    const chunks: Buffer[] = [];
    const collect = new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) });
    try {
      const result = await run(this.argv(args), {
        env: this.env,
        stdin: opts.stdin,
        stdout: opts.stdout ?? collect,
        signal: opts.signal,
        okExitCodes: [0, ...(opts.missingOk ? NOT_FOUND : [])],
      });
      return { exitCode: result.exitCode ?? 0, stdout: Buffer.concat(chunks).toString('utf8') };
    } catch (e) {
      throw this.explain(e, args[0]!);
    }
  }

  private explain(e: unknown, op: string): unknown {
    if (!(e instanceof CommandError) || e.code !== 'COMMAND_FAILED') return e;
    const lastLine = e.result.stderrTail.trim().split('\n').at(-1)?.replace(/^\S+ \S+ /, '') ?? '';
    if (e.result.exitCode === null && /ENOENT|not found/.test(e.message)) {
      return new BackplanError('COMMAND_FAILED', 'rclone is not installed', { ...e.details, hint: 'install rclone (apt-get install rclone) and put it on PATH' });
    }
    return new BackplanError('COMMAND_FAILED', `rclone ${op} at ${rcloneSpec(this.root)} failed: ${lastLine || `exit ${e.result.exitCode}`}`, {
      ...e.details,
      hint: `check that \`rclone lsd ${this.root.remote}:\` works: the remote ${this.root.remote} must be defined in rclone's config (rclone config) or by RCLONE_CONFIG_${this.root.remote.toUpperCase()}_* variables`,
    });
  }

  /** Entries of folder `path` (recursively to `depth`), as lsjson gives them; a missing folder has none. */
  async list(path: string, opts: { depth?: number; filesOnly?: boolean } = {}): Promise<ListedObject[]> {
    const args = ['lsjson', '--no-mimetype', ...(opts.depth ? ['--recursive', '--max-depth', String(opts.depth)] : []), ...(opts.filesOnly ? ['--files-only'] : [])];
    const { exitCode, stdout } = await this.run([...args, this.target(path)], { missingOk: true });
    if (exitCode !== 0) return [];
    return (JSON.parse(stdout || '[]') as ListedObject[]).map((o) => ({ Path: o.Path, Name: o.Name, Size: o.Size, ModTime: o.ModTime, IsDir: o.IsDir }));
  }

  /** A file's listing, by listing its folder: rclone's answers for a missing file differ by backend. */
  async statFile(path: string): Promise<ListedObject | undefined> {
    const name = posix.basename(path);
    return (await this.list(posix.dirname(path), { filesOnly: true })).find((o) => o.Name === name);
  }
}

export interface ListedObject {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
}
