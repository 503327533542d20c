import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplanError, BackplanErrors, formatError } from '../errors.js';
import { readManifest } from '../validate/read-manifest.js';
import type { ManifestSource } from '../validate/read-manifest.js';
import type { Manifest } from '../manifest.js';
import { openDestination } from '../destination/registry.js';
import { makePlan } from '../plan/make-plan.js';
import { offlineFacts, offlineResolution } from '../plan/offline.js';
import { githubAnnotations } from './annotations.js';
import type { Output } from './output.js';

export type ValidateFormat = 'text' | 'github';

/** Validates manifests (files or folders of them); returns every error, printed as it goes. */
export async function validateCommand(targets: string[], format: ValidateFormat, output: Output): Promise<BackplanError[]> {
  const { files, empty } = await expandTargets(targets);
  const all: BackplanError[] = [];
  const valid: ValidManifest[] = [];
  // Annotations are written together at the end: past GitHub's limit, the last one sums up the rest.
  const print = (errors: BackplanError[]) => {
    if (format === 'text') for (const e of errors) output.err(formatError(e) + '\n');
    all.push(...errors);
  };
  // A folder without manifests is a wrong path or glob in a CI job: failing it keeps the job from going green.
  print(
    empty.map(
      (dir) => new BackplanError('USAGE', `no manifests (*.yaml, *.yml) under ${dir}`, { hint: 'check the folder or glob given to backplan validate' }),
    ),
  );
  let invalid = 0;
  for (const file of files) {
    const { errors, source } = await checkManifest(file);
    if (errors.length > 0) invalid++;
    else if (source) valid.push(source);
    print(errors);
  }
  const shared = crossManifestErrors(valid);
  invalid += new Set(shared.map((e) => e.pos?.file)).size;
  print(shared);
  if (format === 'github') output.out(githubAnnotations(all));
  const files_ = files.length === 1 ? '1 manifest' : `${files.length} manifests`;
  if (files.length === 0) output.err('no manifest validated\n');
  else output.err(invalid === 0 && empty.length === 0 ? `${files_} valid\n` : `${files_}: ${invalid} invalid, ${all.length} error(s)\n`);
  return all;
}

type ValidManifest = ManifestSource & { manifest: Manifest };

export async function checkFile(file: string): Promise<BackplanError[]> {
  return (await checkManifest(file)).errors;
}

async function checkManifest(file: string): Promise<{ errors: BackplanError[]; source?: ValidManifest }> {
  try {
    const source = await readManifest(file);
    if (source.errors.length > 0) return { errors: source.errors };
    const valid = source as ValidManifest;
    const errors = graphErrors(valid);
    return { errors, source: errors.length === 0 ? valid : undefined };
  } catch (e) {
    if (e instanceof BackplanError) return { errors: [e] };
    throw e;
  }
}

/**
 * What an infra repo gets wrong across manifests: two jobs with one `name` (their snapshots
 * and locks would be confused) or one `destination` (their retention would delete each
 * other's snapshots). Reported at the later manifest, naming the earlier one.
 */
function crossManifestErrors(manifests: ValidManifest[]): BackplanError[] {
  const errors: BackplanError[] = [];
  for (const key of ['name', 'destination'] as const) {
    const first = new Map<string, ValidManifest>();
    for (const m of manifests) {
      const value = key === 'destination' ? openDestination(m.manifest.destination).spec : m.manifest.name;
      const earlier = first.get(value);
      if (!earlier) {
        first.set(value, m);
        continue;
      }
      const at = earlier.positionOf([key]);
      errors.push(
        new BackplanError('SCHEMA', `${key} ${JSON.stringify(m.manifest[key])} is also used by ${at.file}:${at.line}:${at.col}`, {
          pos: m.positionOf([key]),
          hint: key === 'name' ? 'give every job its own name' : 'give every job its own destination, or retention of one deletes the snapshots of the other',
        }),
      );
    }
  }
  return errors;
}

/** The DAG checks (unknown needs, cycles) need no profile: plan offline. */
function graphErrors(source: ManifestSource & { manifest: Manifest }): BackplanError[] {
  try {
    makePlan({ source, resolution: offlineResolution(source.manifest), destination: openDestination(source.manifest.destination), facts: offlineFacts() });
    return [];
  } catch (e) {
    if (e instanceof BackplanErrors) return e.errors;
    throw e;
  }
}

/** Folders stand for the *.yaml / *.yml manifests they hold, recursively, sorted; `empty` lists those holding none. */
async function expandTargets(targets: string[]): Promise<{ files: string[]; empty: string[] }> {
  const files: string[] = [];
  const empty: string[] = [];
  for (const target of targets) {
    const info = await stat(target).catch(() => undefined);
    if (!info?.isDirectory()) files.push(target);
    else {
      const found = await manifestsUnder(target);
      if (found.length === 0) empty.push(target);
      files.push(...found);
    }
  }
  return { files, empty };
}

async function manifestsUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath ?? dir, e.name))
    .sort();
}
