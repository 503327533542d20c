import { cp, mkdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { PlannedStep } from '../plan/types.js';
import { writeFileAtomic } from '../util/durable.js';
import { fileArtefact, walkFiles } from '../record/checksums.js';
import { singleProfileConfig } from '../resolve/resolve.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface ConfigOptions {
  /** For AiiDA: the config.json to reduce to the one backed-up profile. */
  aiida?: { configPath: string; profileName: string };
  /** Files or folders copied as they are. */
  paths: string[];
  target: string;
}

export function planConfig(input: PlanInput): PlannedStep<ConfigOptions> {
  const target = join(input.snapshot.partialDir, 'config');
  const { aiida, configPaths } = input.profile;
  const commands = configPaths.map((p) => `copy ${p} -> ${join(target, basename(p))}`);
  if (aiida) commands.unshift(`write ${join(target, 'config.json')} (profile ${aiida.profileName} of ${aiida.configPath}, mode 0600)`);
  return {
    id: 'config',
    kind: 'config',
    needs: [],
    always: false,
    summary: aiida ? `copy the configuration of AiiDA profile ${aiida.profileName}` : `copy ${configPaths.length} configuration path(s)`,
    commands,
    options: { aiida: aiida && { configPath: aiida.configPath, profileName: aiida.profileName }, paths: configPaths, target },
  };
}

/** Copies the configuration; an AiiDA config.json keeps only the backed-up profile (mode 0600). */
export const runConfig: StepRun<ConfigOptions> = async (step, ctx) => {
  const { aiida, paths, target } = step.options;
  await mkdir(target, { recursive: true, mode: 0o700 });
  if (aiida) {
    const full = JSON.parse(await readFile(aiida.configPath, 'utf8')) as unknown;
    await writeFileAtomic(join(target, 'config.json'), JSON.stringify(singleProfileConfig(full, aiida.profileName), null, 4) + '\n');
  }
  for (const path of paths) await cp(path, join(target, basename(path)), { recursive: true, preserveTimestamps: true });
  const snapshotDir = ctx.plan.snapshot.partialDir;
  let bytes = 0;
  for await (const file of walkFiles(target)) {
    const record = await fileArtefact(snapshotDir, relative(snapshotDir, file.toString()));
    ctx.state.artefacts.push(record);
    bytes += record.bytes;
  }
  return { bytes };
};
