/**
 * The rclone client of `rclone:REMOTE:PATH` destinations: calls to the destination's `rclone rcd`
 * (./daemon.ts) over rclone's remote-control API. The remote is a name from rclone's own config
 * file or its `RCLONE_CONFIG_<NAME>_*` environment, so credentials never appear in a manifest, an
 * argv or a log line. Connection strings (`:s3,access_key_id=…:`) are refused for that reason.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { BackplanError } from '../../errors.js';
import { rcDaemon, ROOT_REMOTE } from './daemon.js';

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

export interface RcOptions {
  signal?: AbortSignal;
  /** A not-found answer resolves to undefined instead of failing. */
  missingOk?: boolean;
}

/** The rclone daemon of one remote root; paths relative to that root. */
export class Rclone {
  constructor(
    readonly root: RclonePath,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** `REMOTE:ROOT/path` as rclone names it. */
  target(path = ''): string {
    return `${this.root.remote}:${path === '' ? this.root.path : posix.join(this.root.path, path)}`;
  }

  /** Folder `path` as the daemon names it (its alias of the root). */
  fs(path = ''): string {
    return `${ROOT_REMOTE}:${path}`;
  }

  /** One rc call, e.g. `operations/deletefile`; its JSON answer. */
  async rc(method: string, params: Record<string, unknown>, opts: RcOptions = {}): Promise<Record<string, unknown> | undefined> {
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params), signal: opts.signal };
    return this.answer(method, await this.request(method, method, init), opts.missingOk);
  }

  /** Object `path`, its body not yet read (`--rc-serve`); undefined when it does not exist. */
  async read(path: string, signal?: AbortSignal): Promise<Response | undefined> {
    const response = await this.request('cat', `[${this.fs()}]/${urlPath(path)}`, { signal });
    if (response.ok) return response;
    await this.answer('cat', response, true);
    return undefined;
  }

  /**
   * Writes object `path` from `body` as it comes: `operations/uploadfile` takes a multipart form
   * and streams each file part to the remote (rclone's rcat). Aborting `signal` breaks the upload
   * off before the part ends, so nothing truncated is committed where the backend can help it.
   */
  async upload(path: string, body: Uint8Array | AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const boundary = `backplan-${randomBytes(16).toString('hex')}`;
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=utf-8''${rfc5987(posix.basename(path))}\r\nContent-Type: application/octet-stream\r\n\r\n`;
    async function* framed(): AsyncIterable<Uint8Array> {
      yield Buffer.from(head);
      if (body instanceof Uint8Array) yield body;
      else yield* body;
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const dir = posix.dirname(path);
    const query = new URLSearchParams({ fs: this.fs(), remote: dir === '.' ? '' : dir });
    // node's fetch takes an async iterable body (not in the DOM types), streamed with duplex 'half'.
    const init: RequestInit = { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: framed() as unknown as BodyInit, duplex: 'half', signal } as RequestInit;
    await this.answer('upload', await this.request('upload', `operations/uploadfile?${query}`, init), false);
  }

  /** Entries of folder `path` (recursively to `depth`, rclone's lsjson items); a missing folder has none. */
  async list(path: string, opts: { depth?: number; filesOnly?: boolean; signal?: AbortSignal } = {}): Promise<ListedObject[]> {
    const opt = { recurse: opts.depth !== undefined, noMimeType: true, filesOnly: opts.filesOnly === true };
    // _config: the global flags of this call alone (here lsjson's --max-depth).
    const depth = opts.depth !== undefined && Number.isFinite(opts.depth) ? { _config: { MaxDepth: opts.depth } } : {};
    // From the root's fs, not one made for `path`: over SFTP, each fs would open its own connection.
    const answer = await this.rc('operations/list', { fs: this.fs(), remote: path, opt, ...depth }, { missingOk: true, signal: opts.signal });
    const prefix = path === '' ? 0 : path.length + 1; // its items' paths start with `path/`
    return ((answer?.list ?? []) as ListedObject[]).map((o) => ({ Path: o.Path.slice(prefix), Name: o.Name, Size: o.Size, ModTime: o.ModTime, IsDir: o.IsDir }));
  }

  /** A file's listing; undefined when there is none. */
  async statFile(path: string): Promise<ListedObject | undefined> {
    const answer = await this.rc('operations/stat', { fs: this.fs(), remote: path, opt: { filesOnly: true, noMimeType: true } }, { missingOk: true });
    return (answer?.item ?? undefined) as ListedObject | undefined;
  }

  private async request(op: string, path: string, init: RequestInit): Promise<Response> {
    const daemon = await rcDaemon(this.target(), this.env).catch((e: unknown) => {
      throw e instanceof BackplanError && e.details.hint ? e : this.failure(op, (e as Error).message);
    });
    try {
      return await fetch(`${daemon.url}/${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: daemon.authorization } });
    } catch (e) {
      if (init.signal?.aborted) throw new BackplanError('INTERRUPTED', `rclone ${op} at ${rcloneSpec(this.root)} was interrupted`);
      const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw this.failure(op, `no answer from rclone rcd (${cause})${daemon.tail() ? `: ${daemon.tail().split('\n').at(-1)}` : ''}`);
    }
  }

  /** The JSON of a reply; undefined for a not-found one when `missingOk`; else the failure, explained. */
  private async answer(op: string, response: Response, missingOk: boolean | undefined): Promise<Record<string, unknown> | undefined> {
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // a reply that is not JSON is shown as it is
    }
    if (response.ok) return json;
    if (missingOk && response.status === 404) return undefined;
    const error = typeof json.error === 'string' ? json.error : text.trim() || `HTTP ${response.status}`;
    throw this.failure(op, error.trim().split('\n').at(-1)!);
  }

  private failure(op: string, detail: string): BackplanError {
    const name = op.replace(/^operations\//, '');
    return new BackplanError('COMMAND_FAILED', `rclone ${name} at ${rcloneSpec(this.root)} failed: ${detail}`, {
      hint: `check that \`rclone lsd ${this.root.remote}:\` works: the remote ${this.root.remote} must be defined in rclone's config (rclone config) or by RCLONE_CONFIG_${this.root.remote.toUpperCase()}_* variables`,
    });
  }
}

export interface ListedObject {
  Path: string;
  Name: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
}

/** A relative path in a URL: each name percent-encoded (rclone decodes them). */
function urlPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** A file name as an RFC 5987 value (`filename*=utf-8''…`): whatever it holds reaches rclone intact. */
function rfc5987(name: string): string {
  return [...Buffer.from(name, 'utf8')].map((b) => (/[A-Za-z0-9._-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}
