import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateProfile } from '../demo/profile/index.js';
import { acquireServer, createDatabase, dropDatabase } from '../demo/cluster.js';
import { listed, listTable } from './list.js';
import { assessJob, openJob } from './manage.js';
import type { Reporter } from './reporters.js';
import { summaryTable } from './reporters.js';
import { runFile } from './run.js';
import { MODELINE, writeSchema } from './schema.js';
import type { RunSummary } from './run.js';

export interface DemoOptions {
  nodes: number;
  keep: boolean;
  reporter: Reporter;
  write: (text: string) => void;
}

/**
 * Generates a throwaway AiiDA 2.x-like profile (config.json, disk-objectstore container,
 * PostgreSQL database), writes a manifest for it, backs it up and lists the snapshot.
 */
export async function demo(opts: DemoOptions): Promise<RunSummary> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'backplan-demo-'));
  const server = await acquireServer();
  const database = await createDatabase(server, 'backplan_demo');
  try {
    opts.write(`generating a profile with ${opts.nodes} nodes in ${dir}\n`);
    const profile = await generateProfile({ dir, server, database, layout: 'disk-objectstore', nodes: opts.nodes });
    const manifest = join(dir, 'backplan-demo.yaml');
    await writeFile(manifest, demoManifest(profile.configPath, profile.profileName, join(dir, 'backups')));
    await writeSchema(dir); // what the manifest's modeline names, for a look with --keep
    opts.write(`manifest: ${manifest}\n`);
    const summary = await runFile(manifest, { onEvent: opts.reporter.onEvent });
    opts.reporter.close();
    opts.write(summaryTable(summary));
    opts.write(listTable(listed(await assessJob(await openJob(manifest)))));
    opts.write(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    return summary;
  } finally {
    await dropDatabase(server, database).catch(() => undefined);
    await server.stop();
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
    else opts.write(`kept ${dir} (the database was dropped)\n`);
  }
}

function demoManifest(config: string, profile: string, destination: string): string {
  return `${MODELINE}
# Written by \`backplan demo\` for a throwaway profile.
version: 1
name: backplan-demo
profile:
  aiida:
    config: ${JSON.stringify(config)}
    profile: ${JSON.stringify(profile)}
destination: ${JSON.stringify(destination)}
database:
  format: custom
  compression: zstd
repository:
  strategy: tar
  exclude: [sandbox]
retention:
  keepLast: 3
`;
}
