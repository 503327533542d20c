/**
 * `${VAR}` always expands to text; `level: ${ZSTD_LEVEL:-3}` means the number 3. An expanded
 * value at a key the schema types as a number or a boolean is converted when its text is one
 * (YAML 1.2 core: decimal integers, decimals, true/false); otherwise it stays text and the schema
 * check reports it, naming the reference (see validate.ts).
 */
import type { Expansion } from '../load/variables.js';
import { scalarTypes } from './manifest-validator.js';
import type { ScalarType } from './value-schema.js';

const INTEGER = /^[-+]?[0-9]+$/;
const NUMBER = /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/;

function converted(text: string, type: ScalarType): number | boolean | undefined {
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  if (type === 'integer' ? INTEGER.test(text) : NUMBER.test(text)) return Number(text);
  return undefined;
}

/** Converts, in place, the expanded values of `data` whose keys take numbers or booleans. */
export function coerceExpanded(data: unknown, expansions: Expansion[]): void {
  for (const { path, unset } of expansions) {
    if (unset || path.length === 0) continue;
    const type = scalarTypes[path.map((seg) => (typeof seg === 'number' ? '[]' : `.${seg}`)).join('').replace(/^\./, '')];
    if (!type) continue;
    let parent: unknown = data;
    for (const seg of path.slice(0, -1)) parent = parent === null || typeof parent !== 'object' ? undefined : (parent as Record<string, unknown>)[seg];
    if (parent === null || typeof parent !== 'object') continue;
    const key = path[path.length - 1]!;
    const value = (parent as Record<string, unknown>)[key];
    const to = typeof value === 'string' ? converted(value, type) : undefined;
    if (to !== undefined) (parent as Record<string, unknown>)[key] = to;
  }
}
