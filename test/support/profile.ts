/** A generated AiiDA-like profile with a manifest backing it up, for tests that run backplan. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateProfile } from '../../src/demo/profile/index.js';
import type { AiidaLayout, GeneratedProfile } from '../../src/demo/profile/index.js';
import { testServer } from './pg.js';
import type { TestDatabase } from './pg.js';
import { createDatabase, dropDatabase } from '../../src/demo/cluster.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const cliPath = join(repoRoot, 'dist/bin/backplan.cjs');

export interface TestProfile {
  dir: string;
  profile: GeneratedProfile;
  manifest: string;
  destination: string;
  cleanup(): Promise<void>;
}

/** Generates a profile in a temp dir and writes `manifest.yaml` for it with `extra` YAML appended. */
export async function makeProfile(db: TestDatabase, opts: { layout?: AiidaLayout; nodes?: number; extra?: string } = {}): Promise<TestProfile> {
  const dir = await mkdtemp(join(tmpdir(), 'backplan-test-'));
  const profile = await generateProfile({ dir, server: db.server, database: db.name, layout: opts.layout ?? 'disk-objectstore', nodes: opts.nodes ?? 200 });
  const destination = join(dir, 'backups');
  const manifest = join(dir, 'manifest.yaml');
  await writeFile(
    manifest,
    [
      'version: 1',
      'name: test-job',
      'profile:',
      `  aiida: { config: ${JSON.stringify(profile.configPath)}, profile: ${JSON.stringify(profile.profileName)} }`,
      `destination: ${JSON.stringify(destination)}`,
      opts.extra ?? '',
    ].join('\n'),
  );
  return { dir, profile, manifest, destination, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real backplan binary. */
export function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Inside a `describe`: a fresh database and a generated profile for the block, made in `before`
 * and removed in `after` (with `fresh`, made anew for every test). Read its fields only inside
 * hooks and tests.
 */
export function useProfile(prefix: string, opts: { layout?: AiidaLayout; nodes?: number; extra?: string; fresh?: boolean } = {}): TestProfile & { db: TestDatabase } {
  const shared = {} as TestProfile & { db: TestDatabase };
  (opts.fresh ? beforeEach : before)(async () => {
    const server = await testServer();
    shared.db = { server, name: await createDatabase(server, prefix) };
    Object.assign(shared, await makeProfile(shared.db, opts));
  });
  (opts.fresh ? afterEach : after)(async () => {
    await shared.cleanup?.();
    if (shared.db) await dropDatabase(shared.db.server, shared.db.name);
  });
  return shared;
}
