import { readFile } from 'node:fs/promises';
import { LineCounter, parseAllDocuments, parseDocument, isAlias, visit } from 'yaml';
import type { Document } from 'yaml';
import { BackplanError } from '../errors.js';
import { flowReferences } from './flow-references.js';
import { SourceText } from './source.js';
import { expandVariables } from './variables.js';
import type { Expansion } from './variables.js';

/** A parsed manifest: its YAML document (with node ranges) and the plain data it holds. */
export interface LoadedManifest {
  source: SourceText;
  doc: Document.Parsed;
  /** The document as plain data, variables expanded; undefined when it is not well-formed YAML. */
  data: unknown;
  /** The values that held `${…}`. */
  expansions: Expansion[];
  errors: BackplanError[];
}

/** Aliases multiply data; a manifest never needs many, and bombs need thousands. */
const MAX_ALIAS_COUNT = 100;

export async function loadManifestFile(file: string, env: NodeJS.ProcessEnv): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new BackplanError('FILE_NOT_FOUND', `cannot read manifest ${file}: ${reason}`, {
      hint: 'check the path; manifests are YAML files such as manifests/aiida-prod.yaml',
    });
  }
  return loadManifestText(file, text, env);
}

/** Parses YAML keeping node ranges, then expands `${VAR}` in every value, collecting errors. */
export function loadManifestText(file: string, text: string, env: NodeJS.ProcessEnv): LoadedManifest {
  const lineCounter = new LineCounter();
  const source = new SourceText(file, text, lineCounter);
  const list = [...parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true })];
  const doc = list[0] ?? parseDocument('', { lineCounter });
  const errors: BackplanError[] = [];
  if (list.length === 0) errors.push(source.error('YAML_SYNTAX', 0, 'the manifest is empty; start from `backplan schema` or manifests/'));
  const references = doc.errors.length > 0 ? flowReferences(text) : [];
  for (const r of references) {
    errors.push(
      source.error('YAML_SYNTAX', r.offset, `${r.text} inside a YAML flow collection ({ … } or [ … ]) is read as YAML braces, not as a variable`, {
        hint: `quote the value ("${r.text}"; an expanded number stays a number) or write the collection in block style`,
      }),
    );
  }
  // The parser's errors from the first such reference on are its consequences.
  const causeAt = references[0]?.offset ?? Infinity;
  for (const e of doc.errors) if (e.pos[0] < causeAt) errors.push(source.error('YAML_SYNTAX', e.pos[0], firstLine(e.message)));
  for (const extra of list.slice(1)) {
    errors.push(source.error('YAML_SYNTAX', extra.range[0], 'a manifest holds one YAML document; remove the extra "---" document'));
  }
  errors.push(...unresolvedAliases(doc, source));
  if (errors.length > 0) return { source, doc, data: undefined, expansions: [], errors };

  const expanded = expandVariables(doc, source, env);
  errors.push(...expanded.errors);
  try {
    // Unset variables stay as written, so schema errors can still be reported beside them.
    return { source, doc, data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), expansions: expanded.expansions, errors };
  } catch (e) {
    errors.push(source.error('YAML_SYNTAX', firstAliasOffset(doc), `${firstLine((e as Error).message)} (at most ${MAX_ALIAS_COUNT} alias uses)`));
    return { source, doc, data: undefined, expansions: [], errors };
  }
}

function unresolvedAliases(doc: Document.Parsed, source: SourceText): BackplanError[] {
  const errors: BackplanError[] = [];
  visit(doc, {
    Alias(_, node) {
      if (isAlias(node) && node.resolve(doc) === undefined) {
        const at = node.range?.[0] ?? 0;
        errors.push(source.error('YAML_SYNTAX', at, `unknown alias *${node.source}: define the anchor &${node.source} before using it`));
      }
    },
  });
  return errors;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Where the first alias of the document sits: the place to look at when aliases explode. */
function firstAliasOffset(doc: Document.Parsed): number {
  let at = 0;
  visit(doc, {
    Alias(_, node) {
      at = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return at;
}
