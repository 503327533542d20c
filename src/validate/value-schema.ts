/**
 * The two readings of schemas/manifest.schema.json. Editors read the manifest as written, where a
 * checked key (a pattern, a format, a number, an enum) may hold a `${VAR}` reference instead:
 * `oneOf: [<the check>, { $ref: "#/definitions/reference" }]` (not anyOf: yaml-language-server
 * heads the hover of an anyOf of untitled branches with "title || title"). `validate` reads values after
 * expansion, so it compiles the *value schema*: the same schema with those reference branches cut
 * out, each remaining check merged into its key. Used at build time by scripts/compile-schema.ts.
 */
export type SchemaNode = { [key: string]: unknown };

const REFERENCE = '#/definitions/reference';
const isReference = (branch: unknown) => (branch as SchemaNode | null)?.$ref === REFERENCE;

export function valueSchema(schema: SchemaNode): SchemaNode {
  const definitions = (schema.definitions ?? {}) as Record<string, SchemaNode>;
  const cut = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(cut);
    if (node === null || typeof node !== 'object') return node;
    const out: SchemaNode = {};
    for (const [key, value] of Object.entries(node)) out[key] = key === 'examples' || key === 'default' || key === 'enum' ? value : cut(value);
    const branches = out.oneOf as unknown[] | undefined;
    if (!branches?.some(isReference)) return out;
    const kept = branches.filter((b) => !isReference(b));
    delete out.oneOf;
    if (kept.length > 1) return { ...out, oneOf: kept };
    // One check left: it becomes the key's own schema; the key's title and description win.
    const branch = kept[0] as SchemaNode;
    const target = typeof branch.$ref === 'string' ? definitions[branch.$ref.replace('#/definitions/', '')] : branch;
    return { ...(cut(target) as SchemaNode), ...out };
  };
  const result = cut(schema) as SchemaNode;
  delete (result.definitions as SchemaNode).reference;
  return result;
}

export type ScalarType = 'integer' | 'number' | 'boolean';

/**
 * The keys whose values are numbers or booleans, by path (`hooks.before[].always`): where an
 * expanded `${VAR}`, always a string, is converted to the key's type before validation.
 */
export function scalarTypes(schema: SchemaNode): Record<string, ScalarType> {
  const definitions = (schema.definitions ?? {}) as Record<string, SchemaNode>;
  const out: Record<string, ScalarType> = {};
  const walk = (node: SchemaNode, at: string) => {
    const s = typeof node.$ref === 'string' ? definitions[node.$ref.replace('#/definitions/', '')]! : node;
    if (s.type === 'integer' || s.type === 'number' || s.type === 'boolean') out[at] = s.type;
    for (const [key, child] of Object.entries((s.properties ?? {}) as Record<string, SchemaNode>)) walk(child, at ? `${at}.${key}` : key);
    if (s.items) walk(s.items as SchemaNode, `${at}[]`);
    for (const branch of [...((s.oneOf ?? []) as SchemaNode[]), ...((s.allOf ?? []) as SchemaNode[])]) walk(branch, at);
  };
  walk(schema, '');
  return out;
}
