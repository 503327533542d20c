import { isPair, isScalar, isSeq, visit } from 'yaml';
import type { Document, Scalar } from 'yaml';
import type { BackplanError } from '../errors.js';
import type { DataPath, SourceText } from './source.js';

/** `${VAR}`, `${VAR:-default}`; `$$` stands for a literal `$`. */
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A value that held `${…}`: where it is, and how it was written (for errors about what it became). */
export interface Expansion {
  path: DataPath;
  written: string;
  /** A variable without default was unset: the error is that, not what the value became. */
  unset: boolean;
}

/**
 * Expands environment references in every value scalar, in place. Keys are left alone:
 * a manifest's shape must not depend on the environment.
 */
export function expandVariables(doc: Document.Parsed, source: SourceText, env: NodeJS.ProcessEnv): { errors: BackplanError[]; expansions: Expansion[] } {
  const errors: BackplanError[] = [];
  const expansions: Expansion[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const parent = path[path.length - 1];
      if (isPair(parent) && parent.key === node) return;
      const written = node.value;
      const before = errors.length;
      const { value, referenced } = expandOne(node, source, env, errors);
      node.value = value;
      if (referenced) expansions.push({ path: dataPath([...path, node]), written, unset: errors.length > before });
    },
  });
  return { errors, expansions };
}

/** The data path of a node from its ancestors (as `visit` hands them): keys of pairs, indexes in lists. */
function dataPath(chain: readonly unknown[]): DataPath {
  const out: DataPath = [];
  chain.forEach((node, i) => {
    if (isPair(node)) out.push(isScalar(node.key) ? String(node.key.value) : String(node.key));
    else if (isSeq(node)) out.push(node.items.indexOf(chain[i + 1] as never));
  });
  return out;
}

function expandOne(node: Scalar, source: SourceText, env: NodeJS.ProcessEnv, errors: BackplanError[]): { value: string; referenced: boolean } {
  let referenced = false;
  const value = (node.value as string).replace(REFERENCE, (match: string, name?: string, fallback?: string) => {
    if (match === '$$') return '$';
    referenced = true;
    const set = env[name!];
    // As in sh: `:-` also replaces an empty value; a plain ${VAR} set to "" stays "".
    if (fallback !== undefined) return set ? set : fallback;
    if (set !== undefined) return set;
    errors.push(
      source.error('UNSET_VARIABLE', referenceOffset(node, source, match), `environment variable ${name} is not set`, {
        hint: `export ${name}=… before running, or write \${${name}:-default}`,
      }),
    );
    return match;
  });
  return { value, referenced };
}

/** Points at the reference itself inside the scalar's source when it can be found there. */
function referenceOffset(node: Scalar, source: SourceText, match: string): number {
  const [start, end] = node.range ?? [0, 0];
  const at = source.text.slice(start, end).indexOf(match);
  return at >= 0 ? start + at : start;
}
