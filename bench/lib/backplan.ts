/**
 * backplan as a user runs it: the real CLI of this build, in a child process. A run's figures
 * come from its wall time, its snapshot.json and the node process's peak RSS (/proc VmHWM).
 */
import { spawn } from 'node:child_process';
import { readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SnapshotRecord } from '../../src/record/snapshot-record.js';
import { CLI } from './paths.js';
import type { BenchProfile } from './shapes.js';

const RSS_POLL_MS = 50;

export interface CliResult {
  wallMs: number;
  /** VmHWM of the backplan process (not its children: pg_dump, tar, zstd), KiB; 0 where /proc is missing. */
  peakRssKiB: number;
}

/** `node dist/bin/backplan.cjs ARGS…`; a non-zero exit throws with the output's tail. */
export function backplan(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return nodeProcess([CLI, ...args], env);
}

/** `node ARGS…` (this node), spawned directly, no shell; a non-zero exit throws with the output's tail. */
export function nodeProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: string) => (tail = (tail + d).slice(-8000));
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    let peak = 0;
    const poll = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8').then(
        (status) => (peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))),
        () => undefined,
      );
    }, RSS_POLL_MS);
    child.on('error', (e) => (clearInterval(poll), reject(e)));
    child.on('close', (code) => {
      clearInterval(poll);
      const wallMs = performance.now() - start;
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited with ${code}:\n${tail}`));
      else resolve({ wallMs, peakRssKiB: peak });
    });
  });
}

export interface RunResult extends CliResult {
  snapshotDir: string;
  record: SnapshotRecord;
}

/** `backplan run MANIFEST`, then the snapshot `latest` points at. */
export async function backplanRun(manifest: string, destination: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const result = await backplan(['run', manifest], env);
  const snapshotDir = join(destination, await readlink(join(destination, 'latest')));
  const record = JSON.parse(await readFile(join(snapshotDir, 'snapshot.json'), 'utf8')) as SnapshotRecord;
  return { ...result, snapshotDir, record };
}

/** A step's durationMs from snapshot.json. */
export function stepMs(record: SnapshotRecord, id: string): number {
  const step = record.steps.find((s) => s.id === id);
  if (!step) throw new Error(`snapshot ${record.id} has no step ${id}`);
  return step.durationMs;
}

/** The path of the artefact whose name matches, in the snapshot folder. */
export function artefact(run: { snapshotDir: string; record: SnapshotRecord }, name: RegExp): string {
  const a = run.record.artefacts.find((x) => name.test(x.path));
  if (!a) throw new Error(`snapshot ${run.record.id} has no artefact matching ${name}`);
  return join(run.snapshotDir, a.path);
}

export interface ManifestSpec {
  name: string;
  destination: string;
  profile: BenchProfile;
  strategy: 'tar' | 'incremental' | 'rsync';
  /** Back up this (empty) database instead of the profile's, through an explicit profile. */
  database?: { name: string; host: string; port: number; user: string };
  /** age public keys: every artefact encrypted to them. */
  recipients?: string[];
}

/** Writes a manifest: custom dump + zstd, the repository by `strategy`. */
export async function writeManifest(path: string, m: ManifestSpec): Promise<string> {
  const p = m.profile.profile;
  const q = JSON.stringify;
  const profile = m.database
    ? [
        '  explicit:',
        `    config: [${q(p.configPath)}]`,
        `    repository: ${q(m.profile.repo)}`,
        `    layout: ${p.layout}`,
        `    database: { host: ${q(m.database.host)}, port: ${m.database.port}, name: ${q(m.database.name)}, user: ${q(m.database.user)} }`,
      ]
    : [`  aiida: { config: ${q(p.configPath)}, profile: ${q(p.profileName)} }`];
  const repository = {
    tar: 'repository: { strategy: tar, tar: { compression: zstd, level: 3 } }',
    incremental: 'repository: { strategy: incremental, incremental: { fullEvery: 30d, margin: 5m } }',
    rsync: 'repository: { strategy: rsync }',
  }[m.strategy];
  const text = [
    `# Written by bench/ for ${m.profile.shape.name}.`,
    'version: 1',
    `name: ${m.name}`,
    'profile:',
    ...profile,
    `destination: ${q(m.destination)}`,
    'database: { format: custom, compression: zstd }',
    repository,
    'retention: { keepLast: 10 }',
    ...(m.recipients ? [`encryption: { age: { recipients: ${q(m.recipients)} } }`] : []),
    '',
  ].join('\n');
  await writeFile(path, text);
  return path;
}
