import { isPair, visit } from 'yaml';
import type { Document, Scalar } from 'yaml';
import type { BackplanError } from '../errors.js';
import type { SourceText } from './source.js';

/** `${VAR}`, `${VAR:-default}`; `$$` stands for a literal `$`. */
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands environment references in every value scalar, in place. Keys are left alone:
 * a manifest's shape must not depend on the environment.
 */
export function expandVariables(doc: Document.Parsed, source: SourceText, env: NodeJS.ProcessEnv): BackplanError[] {
  const errors: BackplanError[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const parent = path[path.length - 1];
      if (isPair(parent) && parent.key === node) return;
      node.value = expandOne(node, source, env, errors);
    },
  });
  return errors;
}

function expandOne(node: Scalar, source: SourceText, env: NodeJS.ProcessEnv, errors: BackplanError[]): string {
  const value = node.value as string;
  return value.replace(REFERENCE, (match: string, name?: string, fallback?: string) => {
    if (match === '$$') return '$';
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
}

/** Points at the reference itself inside the scalar's source when it can be found there. */
function referenceOffset(node: Scalar, source: SourceText, match: string): number {
  const [start, end] = node.range ?? [0, 0];
  const at = source.text.slice(start, end).indexOf(match);
  return at >= 0 ? start + at : start;
}

