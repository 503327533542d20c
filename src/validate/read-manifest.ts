import type { Document } from 'yaml';
import { destinationProblems } from '../destination/registry.js';
import { BackplanError } from '../errors.js';
import { loadManifestFile, loadManifestText } from '../load/load.js';
import type { LoadedManifest } from '../load/load.js';
import { displayPath, offsetOf } from '../load/source.js';
import type { DataPath, SourceText } from '../load/source.js';
import type { Command, Manifest } from '../manifest.js';
import { splitWords } from '../util/words.js';
import { coerceExpanded } from './coerce.js';
import { validateManifest } from './validate.js';

/** load → validate: a manifest with every mistake collected, or the valid data. */
export interface ManifestSource {
  source: SourceText;
  doc: Document.Parsed;
  manifest?: Manifest;
  errors: BackplanError[];
  /** Position of a data path, for errors raised by later stages. */
  positionOf(path: DataPath): ReturnType<SourceText['pos']>;
}

export async function readManifest(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ManifestSource> {
  return checkLoaded(await loadManifestFile(file, env));
}

export function readManifestText(file: string, text: string, env: NodeJS.ProcessEnv = process.env): ManifestSource {
  return checkLoaded(loadManifestText(file, text, env));
}

function checkLoaded(loaded: LoadedManifest): ManifestSource {
  const { source, doc } = loaded;
  if (loaded.data !== undefined) coerceExpanded(loaded.data, loaded.expansions);
  const schemaErrors = loaded.data === undefined ? [] : validateManifest(loaded.data, doc, source, loaded.expansions);
  const valid = loaded.data !== undefined && schemaErrors.length === 0;
  const commandErrors = valid ? [...checkCommands(loaded.data as Manifest, doc, source), ...checkDestination(loaded.data as Manifest, doc, source)] : [];
  const errors = [...loaded.errors, ...schemaErrors, ...commandErrors].sort(byPosition);
  return {
    source,
    doc,
    manifest: errors.length === 0 ? (loaded.data as Manifest) : undefined,
    errors,
    positionOf: (path) => source.pos(offsetOf(doc, path)),
  };
}

function byPosition(a: BackplanError, b: BackplanError): number {
  return (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0);
}

/** A destination string its kind cannot use, or a repository strategy its kind refuses (rsync on object storage). */
function checkDestination(m: Manifest, doc: Document.Parsed, source: SourceText): BackplanError[] {
  return destinationProblems(m.destination, m.repository?.strategy ?? 'tar').map(({ key, message, hint }) => {
    const path: DataPath = key === 'destination' ? ['destination'] : ['repository', 'strategy'];
    return source.error('SCHEMA', offsetOf(doc, path), message, { hint });
  });
}

/** Command strings are split into words when planning: a blank one or an open quote is a manifest mistake. */
function checkCommands(m: Manifest, doc: Document.Parsed, source: SourceText): BackplanError[] {
  const runs: [DataPath, Command][] = [
    ...(m.hooks?.before ?? []).map((h, i): [DataPath, Command] => [['hooks', 'before', i, 'run'], h.run]),
    ...(m.hooks?.after ?? []).map((h, i): [DataPath, Command] => [['hooks', 'after', i, 'run'], h.run]),
    ...(m.steps ?? []).map((st, i): [DataPath, Command] => [['steps', i, 'run'], st.run]),
  ];
  const errors: BackplanError[] = [];
  for (const [path, run] of runs) {
    if (typeof run !== 'string') continue;
    try {
      if (splitWords(run).length === 0) errors.push(source.error('SCHEMA', offsetOf(doc, path), `${displayPath(path)} must not be empty`));
    } catch (e) {
      if (!(e instanceof BackplanError)) throw e;
      errors.push(source.error('SCHEMA', offsetOf(doc, path), e.message));
    }
  }
  return errors;
}
