/**
 * schemas/manifest.schema.json as other JSON Schema clients read it: ajv in its default strict
 * mode (no allowUnionTypes), and draft-07 editors (yaml-language-server), which ignore every
 * keyword beside a `$ref` and head each hover with the nearest `title`.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv, formats: string[]) => Ajv;

type Node = Record<string, unknown>;
const SCHEMA_PATH = new URL('../../schemas/manifest.schema.json', import.meta.url);
const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Node;

/** Every subschema with its JSON pointer. */
function* subschemas(node: unknown, at = '#'): Generator<[string, Node]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* subschemas(item, `${at}/${i}`);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  yield [at, node as Node];
  for (const [key, child] of Object.entries(node)) {
    if (key === 'examples' || key === 'default' || key === 'enum') continue;
    yield* subschemas(child, `${at}/${key}`);
  }
}

describe('the manifest schema for other JSON Schema clients', () => {
  it('compiles with ajv in strict mode, without allowUnionTypes', () => {
    const ajv = new Ajv({ strict: true });
    addFormats(ajv, ['uri']);
    expect(() => ajv.compile(schema)).to.not.throw();
  });

  it('puts nothing beside a $ref (draft-07 editors ignore it)', () => {
    const crowded = [...subschemas(schema)].filter(([, s]) => '$ref' in s && Object.keys(s).length > 1).map(([at, s]) => `${at}: ${Object.keys(s).join(', ')}`);
    expect(crowded).to.deep.equal([]);
  });

  it('gives every property and definition its own title', () => {
    const untitled: string[] = [];
    const titles = new Set<string>();
    for (const [at, node] of subschemas(schema)) {
      const isProperty = /\/(properties|definitions)\/[^/]+$/.test(at) && !/\/(properties|definitions)\/(properties|definitions)$/.test(at);
      if (!isProperty) continue;
      // A bare reference shows the title of what it references.
      const s = typeof node.$ref === 'string' ? (schema.definitions as Record<string, Node>)[node.$ref.replace('#/definitions/', '')]! : node;
      if (typeof s.title !== 'string' || s.title === '' || s.title === schema.title) untitled.push(at);
      else titles.add(s.title);
    }
    expect(untitled).to.deep.equal([]);
    expect(titles.size).to.be.at.least(50);
  });
});
