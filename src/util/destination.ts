/** `user@host:/path` or `host:/path` means ssh; anything else is a local path. */
export function remoteDestination(destination: string): { host: string; path: string } | undefined {
  const m = /^((?:[^@/:\s]+@)?[^/:\s]+):(.*)$/.exec(destination);
  return m ? { host: m[1]!, path: m[2]! } : undefined;
}
