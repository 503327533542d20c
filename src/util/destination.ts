/** A destination on another host, reached over ssh: `user@host:/path` or `host:/path`. */
export interface RemotePath {
  host: string;
  path: string;
}

/**
 * `user@host:/path` or `host:/path` means ssh; anything else is a local path. A host starting
 * with `-` is not one: it would reach ssh as an option.
 */
export function remoteDestination(destination: string): RemotePath | undefined {
  const m = /^((?:[^@/:\s-][^@/:\s]*@)?[^/:\s-][^/:\s]*):(.*)$/.exec(destination);
  return m ? { host: m[1]!, path: m[2]! } : undefined;
}

/** The inverse of remoteDestination. */
export function remoteSpec(remote: RemotePath): string {
  return `${remote.host}:${remote.path}`;
}
