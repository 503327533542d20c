/**
 * The thin CLI: parses arguments, calls a command, maps error codes to exit codes. Expected
 * failures print their message (file:line:col or step and command) and never a stack.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BackplanError, BackplanErrors, formatError } from '../errors.js';
import { processOutput } from '../commands/output.js';
import { formatPlan, PLAN_FORMATS } from '../plan/format/index.js';
import type { PlanFormat } from '../plan/format/index.js';
import { parseDuration } from '../util/duration.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { interruptController, interruptible, receivedSignal, reportUnsettledExit } from './signals.js';
import { TOOL_VERSION } from '../version.js';
import { eventSink } from '../execute/events.js';
import type { DistributiveOmit, RunEvent } from '../execute/events.js';

// Commands are imported where they run: `--version`, `--help` and `validate` then start without
// loading pg, tar or the destination layer.

function durationArg(value: string): number {
  // 0 needs no unit: it is what --help shows as --wait-lock's default.
  if (/^0+$/.test(value)) return 0;
  try {
    return parseDuration(value);
  } catch {
    throw new InvalidArgumentError('expected a duration such as 10m, 30s or 1h');
  }
}

function program(): Command {
  const cli = new Command('backplan')
    .description('Declarative backups of PostgreSQL-backed profiles (AiiDA, data dirs) from YAML manifests')
    .version(TOOL_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cli
    .command('validate')
    .description('validate manifests (files or folders); every error as file:line:col')
    .argument('<files...>', 'manifest files or folders of them')
    .addOption(new Option('--format <format>', 'text, or github for ::error annotations').choices(['text', 'github']).default('text'))
    .action(async (files: string[], o: { format: 'text' | 'github' }) => {
      const { validateCommand } = await import('../commands/validate.js');
      const errors = await validateCommand(files, o.format, processOutput);
      process.exitCode = errors.length > 0 ? Math.max(...errors.map((e) => exitCodeFor(e.code))) : EXIT.ok;
    });

  cli
    .command('plan')
    .description('print the DAG a run would execute, without running it')
    .argument('<file>', 'manifest')
    .addOption(new Option('--format <format>', 'output format').choices(PLAN_FORMATS).default('text'))
    .option('--offline', 'plan without reading the profile, the database or the destination (CI)')
    .action(async (file: string, o: { format: PlanFormat; offline?: boolean }) => {
      const { planFile } = await import('../commands/plan.js');
      const { plan } = await planFile(file, { estimate: true, offline: o.offline });
      process.stdout.write(formatPlan(plan, o.format));
    });

  cli
    .command('run')
    .description('run the backup DAG')
    .argument('<file>', 'manifest')
    .option('--dry-run', 'print the plan instead of running it')
    .option('--json', 'one JSON event per line on stdout')
    .option('--wait-lock <duration>', 'wait this long for a held lock (e.g. 10m)', durationArg, 0)
    .option('--concurrency <n>', 'steps running at once', (v) => positiveInt(v), 4)
    .option('--quiet', 'print only failures and how the run ended')
    .option('--verbose', 'also print what each step notes (files verified, snapshots pruned, windows copied)')
    .option('--progress-every <duration>', 'without a terminal (cron, CI), a progress line per running step this often; 0 for none', durationArg, 60_000)
    .action(async (file: string, o: RunCliOptions) => {
      // With --json, stdout is one event per line whatever happens, failures included.
      const events = o.json ? eventSink((e) => process.stdout.write(JSON.stringify(e) + '\n')) : undefined;
      try {
        if (o.dryRun) {
          const { planFile } = await import('../commands/plan.js');
          const { plan } = await planFile(file, { waitLockMs: o.waitLock, estimate: true });
          if (events) events({ type: 'plan', plan });
          else process.stdout.write(formatPlan(plan, 'text'));
          return;
        }
        process.exitCode = await runWithSignals(file, o);
      } catch (e) {
        if (!events) throw e;
        for (const error of errorsOf(e)) events(errorEvent(error));
        throw e;
      }
    });

  cli
    .command('list')
    .description('the job\'s snapshots: id, kind, parent, time, size, state (complete, damaged, broken-chain, partial), verified, pinned')
    .argument('<file>', 'manifest')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { json?: boolean }) => {
      const [{ listed, listTable }, { assessJob, openJob }] = await Promise.all([import('../commands/list.js'), import('../commands/manage.js')]);
      const rows = listed(await assessJob(await openJob(file)));
      process.stdout.write(o.json ? JSON.stringify(rows, null, 2) + '\n' : listTable(rows));
    });

  cli
    .command('ls')
    .description('what a snapshot\'s repository holds: type and mode, size, time (UTC) and path of each entry, read where the snapshot lies')
    .argument('<file>', 'manifest')
    .argument('<snapshot>', 'snapshot id, or latest')
    .argument('[path]', 'only this path (relative to the repository root) and what is under it')
    .option('--json', 'one JSON object per line: path, pathBytes (base64, when the name is not UTF-8), type, mode, size, mtime, target')
    .option('--identity <file>', 'age identity (private key) file for an encrypted snapshot; default: $BACKPLAN_AGE_IDENTITY_FILE')
    .action(async (file: string, id: string, path: string | undefined, o: { json?: boolean; identity?: string }) => {
      // `backplan ls … | head`: a reader that has seen enough is no failure.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? EXIT.ok : EXIT.failed));
      const { lsFile } = await import('../commands/ls.js');
      await interruptible((signal) => lsFile(file, id, path, { ...o, signal }, processOutput));
    });

  cli
    .command('restore')
    .description('restore a snapshot: repository, configuration and database (an incremental with its chain)')
    .argument('<file>', 'manifest')
    .argument('<snapshot>', 'snapshot id, or latest')
    .requiredOption('--to <dir>', 'folder to restore into (gets repository/, and .aiida/config.json for an AiiDA profile or config/); must be empty unless --force')
    .option('--database <name>', 'database to create (default: the original name)')
    .option('--owner <role>', 'owner of the new database (default: the profile\'s role)')
    .option('--admin-user <role>', 'create (and drop) the database as this role, owned by the profile\'s role; default: DATABASE_URL\'s user (same server), else PGUSER, when not the profile\'s role; password from the environment (PGPASSWORD, DATABASE_URL) or ~/.pgpass')
    .option('--no-owner', 'pg_restore --no-owner: every object owned by the database\'s owner, not as dumped')
    .option('--no-privileges', 'pg_restore --no-privileges: no GRANTs (for a server without the roles they name)')
    .option('--create-roles', 'first create the roles the dump names that the target server lacks, from the snapshot\'s database.roles.sql, without passwords')
    .option('--host <host>', 'restore onto this server instead of the profile\'s (password from PGPASSWORD or ~/.pgpass)')
    .option('--port <port>', 'the target server\'s port', (v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new InvalidArgumentError('expected a TCP port, 1 to 65535');
      return Number(v);
    })
    .option('--user <role>', 'the profile\'s role on the target server (the owner, and the user the restored AiiDA config names)')
    .option('--dsn <url>', 'the target server as postgres://user@host:port[/database], instead of --host/--port/--user; no password in it')
    .option('--jobs <n>', 'parallel pg_restore jobs (custom/directory dumps)', (v) => positiveInt(v), 1)
    .option('--force', 'replace the target\'s repository/ and configuration, drop and recreate an existing database')
    .option('--profile-name <name>', 'AiiDA: restore the profile under this name, with a fresh PROFILE_UUID')
    .option('--merge-into <config.json>', 'AiiDA: add the restored profile to this config.json (a copy of it is kept first)')
    .option('--identity <file>', 'age identity (private key) file for an encrypted snapshot; default: $BACKPLAN_AGE_IDENTITY_FILE')
    .option('--include <pattern>', 'only the repository paths this glob matches (relative to the repository root; *, ?, **; a folder brings what is under it); repeatable; configuration and database are left alone', (v: string, all: string[] = []) => [...all, v])
    .option('--with-database', 'with --include: restore the database too')
    .option('--dry-run', 'run the checks and print what would be created where, changing nothing')
    .action(async (file: string, id: string, o: RestoreCliOptions) => {
      // commander turns --no-owner into owner: false, --no-privileges into privileges: false.
      const owner = typeof o.owner === 'string' ? o.owner : undefined;
      const { restoreFile } = await import('../commands/restore.js');
      await interruptible((signal) => restoreFile(file, id, { ...o, owner, noOwner: o.owner === false, noPrivileges: o.privileges === false, signal }, processOutput));
    });

  cli
    .command('verify')
    .description('re-hash every artefact and listed file of a snapshot (default latest); exit 1 on any mismatch')
    .argument('<file>', 'manifest')
    .argument('[snapshot]', 'snapshot id, or latest')
    .option('--all', 'every snapshot and chain of the job, damaged ones included')
    .option('--fast', 'compare sizes with snapshot.json instead of re-hashing (nothing downloaded from object storage)')
    .option('--restore-test', 'also restore into a scratch database and folder and compare counts')
    .option('--admin-user <role>', 'create and drop the scratch database as this role (default as for restore: DATABASE_URL\'s user, else PGUSER)')
    .option('--identity <file>', 'age identity (private key) file, for --restore-test of an encrypted snapshot; default: $BACKPLAN_AGE_IDENTITY_FILE')
    .action(async (file: string, id: string | undefined, o: { all?: boolean; fast?: boolean; restoreTest?: boolean; adminUser?: string; identity?: string }) => {
      const { verifyFile } = await import('../commands/verify.js');
      await interruptible((signal) => verifyFile(file, id, { ...o, signal }, processOutput));
    });

  cli
    .command('prune')
    .description('apply retention alone')
    .argument('<file>', 'manifest')
    .option('--dry-run', 'say what would be deleted and why each survivor stays')
    .action(async (file: string, o: { dryRun?: boolean }) => {
      const { describeDecision, pruneFile } = await import('../commands/manage.js');
      const warn = (message: string) => process.stderr.write(`warning: ${message}\n`);
      process.stdout.write(describeDecision(await pruneFile(file, o.dryRun ?? false, warn), o.dryRun ?? false));
    });

  for (const pinned of [true, false]) {
    cli
      .command(pinned ? 'pin' : 'unpin')
      .description(pinned ? 'never prune this snapshot' : 'let retention decide about this snapshot again')
      .argument('<file>', 'manifest')
      .argument('<snapshot>', 'snapshot id, or latest')
      .action(async (file: string, id: string) => {
        const { setPinned } = await import('../commands/manage.js');
        const entry = await setPinned(file, id, pinned);
        process.stdout.write(`${pinned ? 'pinned' : 'unpinned'} ${entry.id}\n`);
      });
  }

  cli
    .command('unlock')
    .description('break the destination lock by hand (like borg break-lock), after checking its holder')
    .argument('<file>', 'manifest')
    .option('--force', 'remove it even if its holder is still running, or is on another host')
    .action(async (file: string, o: { force?: boolean }) => {
      const { unlockFile } = await import('../commands/unlock.js');
      process.stdout.write(await unlockFile(file, { force: o.force ?? false }));
    });

  cli
    .command('check')
    .description('exit 1 when no restorable snapshot is younger than --max-age, the newest is not restorable, the last run failed, or the lock is stuck')
    .argument('<file>', 'manifest')
    .requiredOption('--max-age <duration>', 'e.g. 26h', durationArg)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'prometheus']).default('text'))
    .option('--json', 'same as --format json')
    .action(async (file: string, o: { maxAge: number; format: string; json?: boolean }) => {
      const { checkFreshness, freshnessPrometheus, freshnessText } = await import('../commands/check.js');
      const f = await checkFreshness(file, o.maxAge);
      const format = o.json ? 'json' : o.format;
      process.stdout.write(format === 'json' ? JSON.stringify(f, null, 2) + '\n' : format === 'prometheus' ? freshnessPrometheus(f) : freshnessText(f));
      process.exitCode = f.ok ? EXIT.ok : EXIT.failed;
    });

  cli
    .command('demo')
    .description('generate a throwaway AiiDA-like profile and back it up end to end')
    .option('--nodes <n>', 'nodes in the generated profile', (v) => positiveInt(v), 3000)
    .option('--keep', 'keep the generated profile and its backup folder')
    .action(async (o: { nodes: number; keep?: boolean }) => {
      const [{ demo }, { lineReporter, terminalReporter }] = await Promise.all([import('../commands/demo.js'), import('../commands/reporters.js')]);
      const reporter = process.stderr.isTTY ? terminalReporter(process.stderr) : lineReporter((s) => process.stderr.write(s));
      const summary = await demo({ nodes: o.nodes, keep: o.keep ?? false, reporter, write: (s) => process.stdout.write(s) });
      if (summary.failure) throw summary.failure;
    });

  cli
    .command('import-legacy')
    .description('print the manifest equivalent to an AiiDA 1.x backup_info.json')
    .argument('<file>', 'backup_info.json')
    .option('--name <name>', 'job name (default aiida-<profile>)')
    .option('--profile <profile>', 'the AiiDA profile start_backup.py ran for')
    .action(async (file: string, o: { name?: string; profile?: string }) => {
      const { importLegacy } = await import('../commands/import-legacy.js');
      process.stdout.write(await importLegacy(file, o));
    });

  cli
    .command('init')
    .description('write a commented starter manifest that validates as written (never over an existing file)')
    .argument('[file]', 'where to write it; stdout when left out or -')
    .option('--aiida [config]', 'an AiiDA profile; config.json (or its folder) found through AIIDA_PATH or ~/.aiida when not given (the default)')
    .option('--profile <name>', 'the AiiDA profile (default: the config\'s default_profile)')
    .option('--explicit', 'name the files and the database yourself (with --repository and --database)')
    .option('--repository <dir>', 'explicit: the folder to back up')
    .option('--database <name>', 'explicit: the PostgreSQL database')
    .option('--config <path>', 'explicit: a configuration file or folder to keep (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .option('--host <host>', 'explicit: database host (default localhost)')
    .option('--port <port>', 'explicit: database port (default 5432)', (v) => positiveInt(v))
    .option('--user <user>', 'explicit: database role (default: the user running backplan)')
    .addOption(new Option('--layout <layout>', 'explicit: repository layout').choices(['plain', 'aiida-1', 'disk-objectstore']))
    .option('--name <name>', 'job name, [a-z0-9-]+ (default: from the profile or folder)')
    .option('--destination <dest>', 'where snapshots go: a folder or user@host:/path (default /var/backups/backplan/NAME)')
    .action(async (file: string | undefined, o: import('../commands/init.js').InitOptions) => {
      const { initCommand } = await import('../commands/init.js');
      await initCommand(file, o, processOutput);
    });

  cli
    .command('schema')
    .description('print the manifest JSON Schema, or write it beside your manifests for the editor modeline')
    .option('--write <path>', 'write it to PATH: a folder (gets manifest.schema.json) or a file')
    .action(async (o: { write?: string }) => {
      const { schemaText, writeSchema, MODELINE } = await import('../commands/schema.js');
      if (!o.write) return void process.stdout.write(await schemaText());
      const file = await writeSchema(o.write);
      process.stderr.write(`wrote ${file}; manifests beside it start with:\n${MODELINE}\n`);
    });

  cli
    .command('completion')
    .description('print the completion script for bash, zsh or fish')
    .addArgument(cli.createArgument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: 'bash' | 'zsh' | 'fish') => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(shell, cli));
    });

  cli
    .command('man')
    .description('print the man page of backplan, or of one command, as roff (pipe it to man -l -)')
    .argument('[command]', 'the command whose page to print')
    .option('--output-dir <dir>', 'write every page there instead, as backplan.1 and backplan-COMMAND.1')
    .action(async (name: string | undefined, o: { outputDir?: string }) => {
      const { manCommand } = await import('./man.js');
      process.stdout.write(await manCommand(cli, name, o.outputDir));
    });

  return cli;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

interface RestoreCliOptions {
  to: string;
  database?: string;
  owner?: string | false;
  privileges?: boolean;
  createRoles?: boolean;
  host?: string;
  port?: number;
  user?: string;
  dsn?: string;
  adminUser?: string;
  jobs: number;
  force?: boolean;
  dryRun?: boolean;
  profileName?: string;
  mergeInto?: string;
  identity?: string;
  include?: string[];
  withDatabase?: boolean;
}

interface RunCliOptions {
  dryRun?: boolean;
  json?: boolean;
  waitLock: number;
  concurrency: number;
  quiet?: boolean;
  verbose?: boolean;
  progressEvery: number;
}

/** A signal cancels the run (see ./signals.ts): exit 130 after SIGINT, 143 after SIGTERM. */
async function runWithSignals(file: string, o: RunCliOptions): Promise<number> {
  const [{ runFile }, { jsonReporter, lineReporter, summaryTable, terminalReporter }] = await Promise.all([
    import('../commands/run.js'),
    import('../commands/reporters.js'),
  ]);
  const controller = interruptController();
  const verbosity = o.quiet ? 'quiet' : o.verbose ? 'verbose' : 'normal';
  const reporter = o.json
    ? jsonReporter((s) => process.stdout.write(s))
    : // TERM=dumb (Emacs shell, some CI consoles): a terminal that cannot move the cursor.
      process.stderr.isTTY && process.env.TERM !== 'dumb'
      ? terminalReporter(process.stderr, { verbosity })
      : lineReporter((s) => process.stderr.write(s), { verbosity, progressEveryMs: o.progressEvery });
  try {
    const summary = await runFile(file, { waitLockMs: o.waitLock, concurrency: o.concurrency, signal: controller.signal, onEvent: reporter.onEvent });
    reporter.close();
    if (!o.json && !o.quiet) process.stdout.write(summaryTable(summary));
    if (summary.failure) process.stderr.write(formatError(summary.failure) + '\n');
    if (summary.status === 'interrupted') return exitCodeFor('INTERRUPTED', receivedSignal());
    return summary.failure ? exitCodeFor(summary.failure.code, receivedSignal()) : EXIT.ok;
  } finally {
    reporter.close();
    controller.abort();
  }
}

/** The expected failures inside `e`; anything else is not an expected failure. */
function errorsOf(e: unknown): BackplanError[] {
  if (e instanceof BackplanErrors) return e.errors;
  if (e instanceof BackplanError) return [e];
  return [];
}

function errorEvent(e: BackplanError): DistributiveOmit<RunEvent, 'at' | 'v'> {
  const { pos, hint } = e.details;
  return { type: 'error', code: e.code, message: e.message, ...(hint ? { hint } : {}), ...(pos ? { file: pos.file, line: pos.line, col: pos.col } : {}) };
}

function report(e: unknown): number {
  if (e instanceof BackplanErrors) {
    for (const err of e.errors) process.stderr.write(formatError(err) + '\n');
    return Math.max(...e.errors.map((err) => exitCodeFor(err.code, receivedSignal())));
  }
  if (e instanceof BackplanError) {
    process.stderr.write(formatError(e) + '\n');
    return exitCodeFor(e.code, receivedSignal());
  }
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
  process.stderr.write(`backplan: internal error (please report it):\n${(e as Error)?.stack ?? String(e)}\n`);
  return EXIT.failed;
}

/**
 * Parses argv, runs the command and ends the process with its exit code. A function, not
 * top-level await: the executable loads this module bundled as CommonJS (see main.cts).
 */
async function main(): Promise<void> {
  process.once('exit', reportUnsettledExit);
  try {
    await program().parseAsync(process.argv);
  } catch (e) {
    process.exitCode = report(e);
  }
  process.off('exit', reportUnsettledExit);
  // Ended explicitly: a natural end closes node's signal handles first, and a Ctrl-C landing in
  // that teardown would kill the process by signal, without an exit code. (stdout and stderr are
  // synchronous on Linux, so nothing written is lost.)
  process.exit(process.exitCode ?? EXIT.ok);
}

void main();
