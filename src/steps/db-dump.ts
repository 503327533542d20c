import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Compression, DumpFormat } from '../manifest.js';
import type { PlannedStep } from '../plan/types.js';
import { renderPipeline } from '../execute/render.js';
import { BackplanError } from '../errors.js';
import { connect, databaseError } from '../db/connect.js';
import { majorVersion, pgDumpVersion } from '../db/pg-dump-version.js';
import { allRoles } from '../db/roles.js';
import { parseRoleStatements, rolesFile, rolesOnly } from '../db/roles-sql.js';
import { encryptStage, sealedName } from '../execute/age.js';
import { writeFailure } from '../execute/blame.js';
import { pipeline, run } from '../execute/subprocess.js';
import { pipeIntoArtefact } from '../execute/write-artefact.js';
import { writeSha256Sums } from '../record/checksums.js';
import { describeDatabase, emptyDatabaseInfo } from './db-snapshot.js';
import { conninfo, EXPORTED_SNAPSHOT, libpqEnv } from './plan-input.js';
import { libpqChildEnv } from './run-context.js';
import { reportProgress } from './progress.js';
import type { RunContext, StepRun } from './run-context.js';
import type { PlanInput } from './plan-input.js';

export interface DbDumpOptions {
  format: DumpFormat;
  /** What the artefact is actually compressed with (pg_dump 15 has no zstd for directory dumps). */
  compression: Compression;
  /** Connection for libpq, without the password. */
  env: Record<string, string>;
  /** pg_dump, then the compressor when compression happens outside pg_dump. */
  stages: string[][];
  /** Artefact name inside the snapshot: database.dump[.zst], database.dir, database.sql[.zst|.gz]. */
  artefact: string;
  /** Read the run's exported snapshot (else the dump fixes the state itself: fallback mode). */
  useExportedSnapshot: boolean;
  /** pg_dumpall --roles-only, its output kept for the roles the dump names only (then encrypted by `encrypt`). */
  roles: { argv: string[]; artefact: string; encrypt?: string[] };
}

/** The definitions of the roles the dump names (db/roles-sql.ts), beside the dump. */
export const ROLES_ARTEFACT = 'database.roles.sql';

const GZIP_LEVEL = '6';
const ZSTD_LEVEL = '3';

export function planDbDump(input: PlanInput): { step: PlannedStep<DbDumpOptions>; notes: string[] } {
  const { format, jobs } = input.settings.database;
  const notes: string[] = [];
  let compression = input.settings.database.compression;
  if (format === 'directory' && compression === 'zstd' && (input.pgDumpMajor ?? 0) < 16) {
    compression = 'gzip';
    notes.push('pg_dump < 16 cannot write zstd directory dumps: the directory dump uses gzip (pg_dump 16+ writes zstd)');
  }
  const internalZstd = compression === 'zstd' && (input.pgDumpMajor ?? 0) >= 16;
  const pgDump = ['pg_dump', `--format=${format}`, '--no-password'];
  if (input.exportedSnapshots) pgDump.push(`--snapshot=${EXPORTED_SNAPSHOT}`);
  if (format === 'directory') pgDump.push(`--jobs=${jobs}`);
  const stages = [pgDump];
  let artefact: string;
  if (format === 'plain') {
    artefact = { zstd: 'database.sql.zst', gzip: 'database.sql.gz', none: 'database.sql' }[compression];
    if (compression !== 'none') stages.push(compressor(compression));
  } else {
    artefact = format === 'directory' ? 'database.dir' : compression === 'zstd' && !internalZstd ? 'database.dump.zst' : 'database.dump';
    pgDump.push(`--compress=${internalZstd ? `zstd:${ZSTD_LEVEL}` : compression === 'gzip' ? GZIP_LEVEL : '0'}`);
    if (compression === 'zstd' && !internalZstd) stages.push(compressor('zstd'));
    if (format === 'directory') pgDump.push(`--file=${join(input.snapshot.partialDir, artefact)}`);
  }
  // Encryption follows the compressor (the schema refuses it for a directory dump).
  const { encryption } = input.settings;
  if (encryption) stages.push(encryptStage(encryption));
  artefact = sealedName(artefact, encryption);
  const env = libpqEnv(input.profile.database);
  const output = format === 'directory' ? undefined : join(input.snapshot.partialDir, artefact);
  // Roles are the cluster's, not the database's: pg_dumpall reads them (pg_roles, so no
  // superuser and no password hashes), connected to the profile's database, which its role may
  // surely reach. The name goes inside a quoted conninfo, never read as one itself.
  const roles = {
    argv: ['pg_dumpall', '--roles-only', '--no-role-passwords', '--no-password', `--database=${conninfo(input.profile.database.name)}`],
    artefact: sealedName(ROLES_ARTEFACT, encryption),
    ...(encryption ? { encrypt: encryptStage(encryption) } : {}),
  };
  const rolesStages = roles.encrypt ? [roles.argv, roles.encrypt] : [roles.argv];
  const rolesCommand = `${renderPipeline(rolesStages, { env, password: input.hasPassword, output: join(input.snapshot.partialDir, roles.artefact) })}  # kept: the roles the dump names`;
  return {
    notes,
    step: {
      id: 'db-dump',
      kind: 'db-dump',
      needs: [],
      always: false,
      timeoutMs: input.settings.database.timeoutMs,
      summary: `dump database ${input.profile.database.name} (${format}, ${compression})${input.exportedSnapshots ? ' inside the exported snapshot' : ''}, and the roles it names`,
      commands: [renderPipeline(stages, { env, password: input.hasPassword, output }), rolesCommand],
      options: { format, compression, env, stages, artefact, useExportedSnapshot: input.exportedSnapshots, roles },
    },
  };
}

function compressor(compression: 'zstd' | 'gzip'): string[] {
  return compression === 'zstd' ? ['zstd', `-${ZSTD_LEVEL}`, '-T0', '-q', '-c'] : ['gzip', `-${GZIP_LEVEL}`, '-c'];
}

/** Streams pg_dump (and the compressor) into the artefact, hashing on the way. */
export const runDbDump: StepRun<DbDumpOptions> = async (step, ctx, signal) => {
  const o = step.options;
  const partialDir = ctx.plan.snapshot.partialDir;
  // Fallback mode has no db-snapshot step: the server's version, counts and roles are read here.
  const serverVersion = ctx.state.database?.serverVersion ?? (await describeWithoutSnapshot(ctx));
  // Checked beside the dump, not before it: a pg_dump older than the server fails, and then its
  // version explains why (TOOL_VERSION, with the fix) better than pg_dump's terse error.
  const version = checkPgDumpVersion(serverVersion);
  version.catch(() => undefined);
  const stages = o.stages.map((argv) => argv.map((a) => a.replace(EXPORTED_SNAPSHOT, ctx.state.exportedSnapshot ?? '')));
  const stageEnv = [libpqChildEnv(o.env, ctx)];
  const onStderrLine = (line: string) => ctx.emit({ type: 'step-log', step: step.id, level: 'info', message: line });
  // The roles are read beside the dump (a second short connection), not after it.
  const roles = dumpRoles(o, ctx, signal, onStderrLine);
  roles.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
  let bytes: number;
  const stopProgress = reportProgress(ctx, step.id, join(partialDir, o.artefact));
  try {
    bytes = await dumpDatabase(o, ctx, { signal, stages, stageEnv, onStderrLine });
  } catch (e) {
    await Promise.allSettled([roles]);
    await version;
    throw e;
  } finally {
    stopProgress();
  }
  bytes += await roles;
  const pgDumpVersion = await version;
  ctx.state.database = {
    ...(ctx.state.database ?? emptyDatabaseInfo(ctx)),
    pgDumpVersion,
    format: o.format,
    compression: o.compression,
    exportedSnapshot: o.useExportedSnapshot,
  };
  return { bytes };
};

/** pg_dump into the artefact (streamed and hashed), or into a directory dump with its SHA256SUMS. */
async function dumpDatabase(o: DbDumpOptions, ctx: RunContext, io: { signal: AbortSignal; stages: string[][]; stageEnv: NodeJS.ProcessEnv[]; onStderrLine: (line: string) => void }): Promise<number> {
  const { signal, stages, stageEnv, onStderrLine } = io;
  if (o.format === 'directory') {
    await run(stages[0]!, { signal, env: stageEnv[0], onStderrLine, stdout: 'ignore' });
    const sums = await writeSha256Sums(ctx.plan.snapshot.partialDir, o.artefact, signal);
    ctx.state.artefacts.push(sums);
    return sums.covers!.bytes;
  }
  // pg_dump itself writing a file it can seek would go back to rewrite its table of contents.
  const appendOnly = stages.length > 1;
  const written = await pipeIntoArtefact(ctx.destination, ctx.plan.snapshot.id, o.artefact, stages, { signal, stageEnv, onStderrLine, appendOnly });
  ctx.state.artefacts.push({ path: o.artefact, ...written });
  return written.bytes;
}

/**
 * pg_dumpall --roles-only, kept for the roles db-snapshot found the dump names (and the
 * database's owner), with the memberships among them; written and hashed like any artefact.
 */
async function dumpRoles(o: DbDumpOptions, ctx: RunContext, signal: AbortSignal, onStderrLine: (line: string) => void): Promise<number> {
  const { roles } = o;
  const needed = await ctx.state.databaseRoles;
  if (!needed) throw new Error('db-dump: the roles the dump names were not read');
  const chunks: Buffer[] = [];
  const collect = new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) });
  await run(roles.argv, { signal, env: libpqChildEnv(o.env, ctx), onStderrLine, stdout: collect });
  const kept = rolesOnly(parseRoleStatements(Buffer.concat(chunks).toString('utf8')), new Set(allRoles(needed)));
  const sink = ctx.destination.artefactSink(ctx.plan.snapshot.id, roles.artefact);
  const text = rolesFile(kept);
  if (roles.encrypt) await pipeline([roles.encrypt], { signal, stdin: Readable.from([Buffer.from(text)]), output: sink.stream });
  else sink.stream.end(text);
  // Written by us, not a pipeline: a full disk is told as the pipelines tell it (DISK_FULL).
  const written = await sink.done().catch((e: unknown) => {
    throw writeFailure(roles.artefact, e);
  });
  ctx.state.artefacts.push({ path: roles.artefact, ...written });
  return written.bytes;
}

/** pg_dump refuses a newer server with a terse error; say which client to install instead. */
async function checkPgDumpVersion(serverVersion: string): Promise<string> {
  const version = await pgDumpVersion();
  const major = majorVersion(serverVersion);
  if (majorVersion(version) < major) {
    throw new BackplanError('TOOL_VERSION', `pg_dump ${version} is older than the server (PostgreSQL ${serverVersion}) and cannot dump it`, {
      hint: `install the PostgreSQL ${major} client tools (e.g. apt-get install postgresql-client-${major}) and put them first on PATH`,
    });
  }
  return version;
}

/** Fallback mode: ask the server, and record its row counts and the roles the dump names too; its version. */
async function describeWithoutSnapshot(ctx: RunContext): Promise<string> {
  const client = await connect(ctx.plan.profile.database, ctx.secrets);
  try {
    await describeDatabase(client, ctx);
    return ctx.state.database!.serverVersion;
  } catch (e) {
    throw databaseError(e, ctx.plan.profile.database);
  } finally {
    await client.end().catch(() => undefined);
  }
}
