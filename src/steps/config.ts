import { cp, mkdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { AGE_SUFFIX, ageFile, encryptStage, sealedName } from '../execute/age.js';
import { pipeline } from '../execute/subprocess.js';
import type { PlannedStep } from '../plan/types.js';
import type { SnapshotEncryption } from '../record/snapshot-record.js';
import { writeFileAtomic } from '../util/durable.js';
import { fileArtefact, walkFileNames, walkFiles } from '../record/checksums.js';
import { singleProfileConfig } from '../resolve/resolve.js';
import type { PlanInput } from './plan-input.js';
import type { StepRun } from './run-context.js';

export interface ConfigOptions {
  /** For AiiDA: the config.json to reduce to the one backed-up profile. */
  aiida?: { configPath: string; profileName: string };
  /** Files or folders copied as they are. */
  paths: string[];
  target: string;
  /** Each file then goes through age into `<name>.age`: no configuration byte is stored in clear. */
  encryption?: SnapshotEncryption;
}

export function planConfig(input: PlanInput): PlannedStep<ConfigOptions> {
  const target = join(input.snapshot.partialDir, 'config');
  const { aiida, configPaths } = input.profile;
  const { encryption } = input.settings;
  const how = encryption ? ', each file through age --encrypt into <name>.age' : '';
  const commands = configPaths.map((p) => `copy ${p} -> ${join(target, basename(p))}${how}`);
  if (aiida) commands.unshift(`write ${join(target, sealedName('config.json', encryption))} (profile ${aiida.profileName} of ${aiida.configPath}, mode 0600${encryption ? ', through age --encrypt' : ''})`);
  return {
    id: 'config',
    kind: 'config',
    needs: [],
    always: false,
    summary: aiida ? `copy the configuration of AiiDA profile ${aiida.profileName}` : `copy ${configPaths.length} configuration path(s)`,
    commands,
    options: { aiida: aiida && { configPath: aiida.configPath, profileName: aiida.profileName }, paths: configPaths, target, ...(encryption ? { encryption } : {}) },
  };
}

/** Copies the configuration; an AiiDA config.json keeps only the backed-up profile (mode 0600). */
export const runConfig: StepRun<ConfigOptions> = async (step, ctx, signal) => {
  const { aiida, paths, target, encryption } = step.options;
  await mkdir(target, { recursive: true, mode: 0o700 });
  if (aiida) {
    const full = JSON.parse(await readFile(aiida.configPath, 'utf8')) as unknown;
    const text = JSON.stringify(singleProfileConfig(full, aiida.profileName), null, 4) + '\n';
    if (encryption) await pipeline([encryptStage(encryption)], { signal, stdin: Readable.from([Buffer.from(text)]), output: join(target, 'config.json.age') });
    else await writeFileAtomic(join(target, 'config.json'), text);
  }
  for (const path of paths) {
    if (encryption) await encryptCopy(path, join(target, basename(path)), encryption, signal);
    else await cp(path, join(target, basename(path)), { recursive: true, preserveTimestamps: true });
  }
  const snapshotDir = ctx.plan.snapshot.partialDir;
  let bytes = 0;
  for await (const file of walkFiles(target)) {
    const record = await fileArtefact(snapshotDir, relative(snapshotDir, file.toString()));
    ctx.state.artefacts.push(record);
    bytes += record.bytes;
  }
  return { bytes };
};

/** A file, or every regular file under a folder, encrypted into the same place as `<name>.age`. */
async function encryptCopy(source: string, target: string, encryption: SnapshotEncryption, signal: AbortSignal): Promise<void> {
  const [from, to, suffix] = [Buffer.from(source), Buffer.from(target), Buffer.from(AGE_SUFFIX)];
  if (!(await stat(source)).isDirectory()) return ageFile(encryptStage(encryption), from, Buffer.concat([to, suffix]), signal);
  const under = (root: Buffer, name: Buffer) => Buffer.concat([root, Buffer.from('/'), name]);
  for await (const name of walkFileNames(from)) await ageFile(encryptStage(encryption), under(from, name), Buffer.concat([under(to, name), suffix]), signal);
}
