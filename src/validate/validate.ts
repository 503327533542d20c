import type { ErrorObject } from 'ajv';
import type { Document } from 'yaml';
import type { BackplanError } from '../errors.js';
import { offsetOf, pairAt, pointerToPath } from '../load/source.js';
import type { DataPath, SourceText } from '../load/source.js';
import type { Expansion } from '../load/variables.js';
import checkSchema from './manifest-validator.js';
import { describeSchemaError } from './messages.js';

/**
 * Every schema violation of the data, each pointing at the offending key or value. A value
 * that came from `${…}` is named as written; one with an unset variable is reported as that
 * (by the loader) and not again here.
 */
export function validateManifest(data: unknown, doc: Document.Parsed, source: SourceText, expansions: Expansion[] = []): BackplanError[] {
  if (checkSchema(data)) return [];
  const written = new Map(expansions.map((x) => [pointer(x.path), x]));
  const seen = new Set<string>();
  const errors: { offset: number; error: BackplanError }[] = [];
  // A failed if/then says only "must match then"; the errors inside `then` say what and why.
  for (const raw of collapseAlternatives(checkSchema.errors ?? []).filter((e) => e.keyword !== 'if')) {
    const expansion = written.get(raw.instancePath);
    if (expansion?.unset) continue;
    const described = describeSchemaError(raw, expansion?.written);
    const offset = offsetFor(raw, doc);
    const key = `${offset}:${described.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ offset, error: source.error(described.code, offset, described.message, { hint: described.hint }) });
  }
  return errors.sort((a, b) => a.offset - b.offset).map((e) => e.error);
}

const pointer = (path: DataPath) => path.map((seg) => `/${String(seg).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** An unknown key is shown at the key; a missing key at its parent mapping; the rest at the value. */
function offsetFor(error: ErrorObject, doc: Document.Parsed): number {
  const path = pointerToPath(error.instancePath);
  if (error.keyword === 'additionalProperties') {
    const key = pairAt(doc, path, String(error.params.additionalProperty))?.key as { range?: number[] } | undefined;
    if (key?.range) return key.range[0]!;
  }
  return offsetOf(doc, path);
}


/**
 * ajv reports a failed `oneOf` (the command: a string or a list) with every branch's errors. A value of one branch's type (a
 * command string that is blank) keeps that branch's errors; a value of no branch's type becomes
 * one `type` error naming every type ("a string or a list").
 */
function collapseAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const failed = errors.filter((e) => e.keyword === 'oneOf');
  if (failed.length === 0) return errors;
  const out = errors.filter((e) => e.keyword !== 'oneOf' && !failed.some((f) => isBranchError(e, f)));
  for (const f of failed) {
    const branches = (f.schema as unknown[]).map((_, i) => errors.filter((e) => isBranchError(e, f) && e.schemaPath.startsWith(`${f.schemaPath}/${i}/`)));
    const typeMiss = (branch: ErrorObject[]) => branch.some((e) => e.keyword === 'type' && e.instancePath === f.instancePath);
    const ofType = branches.filter((b) => !typeMiss(b));
    if (ofType.length === 1) out.push(...ofType[0]!);
    else {
      const types = branches.flatMap((b) => b.filter((e) => e.keyword === 'type' && e.instancePath === f.instancePath).map((e) => String(e.params.type)));
      out.push({ ...f, keyword: 'type', params: { type: [...new Set(types)].join(',') } });
    }
  }
  return out;
}

const isBranchError = (e: ErrorObject, oneOf: ErrorObject) => e !== oneOf && e.schemaPath.startsWith(`${oneOf.schemaPath}/`) && e.instancePath.startsWith(oneOf.instancePath);
