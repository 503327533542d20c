/**
 * One benchmark session: a work folder, the PostgreSQL server the tests and the demo use
 * (acquireServer: DATABASE_URL / PG* when set, else a throwaway cluster), and the databases
 * made on it, all gone again at the end whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';
import { acquireServer, createDatabase, dropDatabase } from '../../src/demo/cluster.js';
import type { PgServer } from '../../src/demo/cluster.js';

export interface Harness {
  server: PgServer;
  work: string;
  log: (line: string) => void;
  /** A new empty database, dropped at the end. */
  newDatabase(prefix: string): Promise<string>;
  /** A name for a database someone else (a restore) will create; dropped at the end too. */
  databaseName(prefix: string): string;
  /** Drops a database now (between rounds). */
  drop(name: string): Promise<void>;
  /** For backplan and the plain tools: this process's environment plus the server's PG*. */
  env: NodeJS.ProcessEnv;
}

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

export async function withHarness(job: string, o: { work?: string; keep: boolean }, fn: (h: Harness) => Promise<void>): Promise<void> {
  const work = o.work ?? (await mkdtemp(join(os.tmpdir(), `backplan-bench-${job}-`)));
  await mkdir(work, { recursive: true });
  const server = await acquireServer();
  const databases = new Set<string>();
  let counter = 0;
  const h: Harness = {
    server,
    work,
    log,
    env: { ...process.env, ...server.env },
    async newDatabase(prefix) {
      const name = await createDatabase(server, prefix);
      databases.add(name);
      return name;
    },
    databaseName(prefix) {
      const name = `${prefix}_${process.pid}_${++counter}`;
      databases.add(name);
      return name;
    },
    drop: (name) => dropDatabase(server, name),
  };
  log(`${job}: work dir ${work}, PostgreSQL at ${server.host}:${server.port}${server.dir ? ' (throwaway cluster)' : ''}`);
  const removeWork = !o.keep && !o.work;
  // Interrupted, the process still exits through 'exit', where a throwaway cluster stops and
  // goes with its databases (demo/cluster.ts) and so does the work folder; on a server of the
  // user's (DATABASE_URL, PG*) the bench's databases stay, named by prefix and pid.
  const onExit = () => void (removeWork && spawnSync('rm', ['-rf', work], { stdio: 'ignore' }));
  const onSignal = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.once('exit', onExit).once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await fn(h);
  } finally {
    process.removeListener('exit', onExit).removeListener('SIGINT', onSignal).removeListener('SIGTERM', onSignal);
    // Kept with the work dir on a server of the user's, so that a kept profile can be run again.
    if (o.keep && !server.dir) log(`kept databases: ${[...databases].join(', ')}`);
    else for (const name of databases) await dropDatabase(server, name).catch(() => undefined);
    await server.stop();
    // rm -rf: many times faster than fs.rm on hundreds of thousands of files.
    if (removeWork) await $`rm -rf ${work}`.quiet();
  }
}

/** The script's main: errors end it with exit 1 and the stack. */
export function main(fn: () => Promise<void>): void {
  fn().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
