import type { ErrorObject } from 'ajv';
import type { Document } from 'yaml';
import type { BackplanError } from '../errors.js';
import { offsetOf, pairAt, pointerToPath } from '../load/source.js';
import type { SourceText } from '../load/source.js';
import checkSchema from './manifest-validator.js';
import { describeSchemaError } from './messages.js';

/** Every schema violation of the data, each pointing at the offending key or value. */
export function validateManifest(data: unknown, doc: Document.Parsed, source: SourceText): BackplanError[] {
  if (checkSchema(data)) return [];
  const seen = new Set<string>();
  const errors: { offset: number; error: BackplanError }[] = [];
  for (const raw of checkSchema.errors ?? []) {
    const described = describeSchemaError(raw);
    const offset = offsetFor(raw, doc);
    const key = `${offset}:${described.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ offset, error: source.error(described.code, offset, described.message, { hint: described.hint }) });
  }
  return errors.sort((a, b) => a.offset - b.offset).map((e) => e.error);
}

/** An unknown key is shown at the key; a missing key at its parent mapping; the rest at the value. */
function offsetFor(error: ErrorObject, doc: Document.Parsed): number {
  const path = pointerToPath(error.instancePath);
  if (error.keyword === 'additionalProperties') {
    const key = pairAt(doc, path, String(error.params.additionalProperty))?.key as { range?: number[] } | undefined;
    if (key?.range) return key.range[0]!;
  }
  return offsetOf(doc, path);
}

