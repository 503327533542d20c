/**
 * Version safety, decided before anything is touched: a server cannot load a dump of a newer
 * major version, and pg_restore refuses (mid-way, with a terse message) an archive written by a
 * newer pg_dump. Pure, so the rules are tested with injected versions.
 */
import { BackplanError } from '../errors.js';

export interface RestoreVersions {
  /** The dumped server's `server_version` as recorded in snapshot.json. */
  dumpServer: string;
  /** The pg_dump that wrote the dump, as recorded. */
  pgDump: string;
  /** The server restored into. */
  targetServer: string;
  /** The local tool that loads the dump: pg_restore (custom, directory) or psql (plain). */
  tool: { name: 'pg_restore' | 'psql'; version: string };
}

/**
 * PostgreSQL's major version: the first number from 10 on, the first two before
 * (9.6.24 → 9.6). NaN when the text holds no version.
 */
export function majorVersion(version: string): number {
  const m = /(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return NaN;
  const first = Number(m[1]);
  return first >= 10 || m[2] === undefined ? first : Number(`${first}.${m[2]}`);
}

/** The version in a tool's `--version` line ("pg_restore (PostgreSQL) 15.20 (Debian …)" → "15.20"). */
export function toolVersion(output: string): string {
  return /\d+(?:\.\d+)*/.exec(output)?.[0] ?? output.trim();
}

/** Throws TOOL_VERSION naming both versions and what to install; unknown versions pass. */
export function checkRestoreVersions(v: RestoreVersions): void {
  const dumped = majorVersion(v.dumpServer);
  const target = majorVersion(v.targetServer);
  if (dumped > target) {
    throw new BackplanError(
      'TOOL_VERSION',
      `the dump comes from PostgreSQL ${v.dumpServer}, newer than the target server (PostgreSQL ${v.targetServer}); a server cannot load a dump of a newer major version`,
      { hint: `restore onto a PostgreSQL ${dumped} (or newer) server` },
    );
  }
  const writer = majorVersion(v.pgDump);
  const tool = majorVersion(v.tool.version);
  if (writer > tool) {
    throw new BackplanError(
      'TOOL_VERSION',
      `${v.tool.name} ${v.tool.version} is older than the pg_dump ${v.pgDump} that wrote the dump and cannot read it`,
      { hint: `install the PostgreSQL ${writer} client tools (e.g. apt-get install postgresql-client-${writer}) and put them first on PATH` },
    );
  }
}
