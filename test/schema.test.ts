/**
 * schemas/manifest.schema.json as other JSON Schema clients read it: ajv in its default strict
 * mode (no allowUnionTypes), and draft-07 editors (yaml-language-server), which ignore every
 * keyword beside a `$ref` and head each hover with the nearest `title`.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { legacyManifest, parseBackupInfo } from '../src/commands/import-legacy.js';
import { MODELINE, SCHEMA_FILE } from '../src/commands/schema.js';
import { valueSchema } from '../src/validate/value-schema.js';

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
    // And what validate compiles: the schema of values after ${VAR} expansion.
    const values = new Ajv({ strict: true });
    addFormats(values, ['uri']);
    expect(() => values.compile(valueSchema(schema))).to.not.throw();
  });

  it('puts nothing beside a $ref (draft-07 editors ignore it)', () => {
    const crowded = [...subschemas(schema)].filter(([, s]) => '$ref' in s && Object.keys(s).length > 1).map(([at, s]) => `${at}: ${Object.keys(s).join(', ')}`);
    expect(crowded).to.deep.equal([]);
  });

  it('gives every property a title: its own, or that of the definition it names', () => {
    const definitions = schema.definitions as Record<string, Node>;
    const untitled: string[] = [];
    for (const [at, node] of subschemas(schema)) {
      if (!/\/properties\/[^/]+$/.test(at) || at.endsWith('/properties/properties') || /\/(if|then)\//.test(at)) continue;
      const s = typeof node.$ref === 'string' ? definitions[node.$ref.replace('#/definitions/', '')]! : node;
      if (typeof s.title !== 'string' || s.title === '' || s.title === schema.title) untitled.push(at);
    }
    expect(untitled).to.deep.equal([]);
  });

  it('leaves title and description off definitions reached through allOf/oneOf (editors would show them instead of the key\'s)', () => {
    const definitions = schema.definitions as Record<string, Node>;
    const wrapped = new Set<string>();
    for (const [at, node] of subschemas(schema)) {
      if (/\/(allOf|oneOf|anyOf)\/\d+$/.test(at) && typeof node.$ref === 'string') wrapped.add(node.$ref.replace('#/definitions/', ''));
    }
    expect([...wrapped].sort()).to.deep.equal(['command', 'duration', 'reference']);
    const masking = [...wrapped].filter((name) => 'title' in definitions[name]! || 'description' in definitions[name]!);
    expect(masking).to.deep.equal([]);
  });
});

describe('one modeline, resolved from the manifest\'s folder', function () {
  this.timeout(60_000);
  const MODELINE_AT = /^#\s*yaml-language-server:\s*\$schema=(\S+)/m;
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const schemaText = readFileSync(SCHEMA_PATH, 'utf8');

  /** Every YAML file of the repository that names a schema, with the text it holds. */
  function manifestsWithModeline(): [string, string][] {
    const skip = new Set(['node_modules', 'dist', '.git']);
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        if (skip.has(e.name)) return [];
        if (e.isDirectory()) return walk(path.join(dir, e.name));
        return /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : [];
      });
    return walk(ROOT)
      .map((f): [string, string] => [path.relative(ROOT, f), readFileSync(f, 'utf8')])
      .filter(([, text]) => MODELINE_AT.test(text));
  }

  it('every manifest of the repository starts with the same modeline', () => {
    const found = manifestsWithModeline();
    expect(found.length).to.be.at.least(50);
    const other = found.filter(([, text]) => !text.startsWith(MODELINE + '\n')).map(([file, text]) => `${file}: ${MODELINE_AT.exec(text)![0]}`);
    expect(other).to.deep.equal([]);
  });

  it('the schema it names lies beside each of them and is the schema', () => {
    const folders = new Set(manifestsWithModeline().map(([file]) => path.dirname(file)));
    for (const folder of folders) {
      const named = path.join(ROOT, folder, SCHEMA_FILE);
      expect(existsSync(named), `${folder}/${SCHEMA_FILE}`).to.equal(true);
      expect(readFileSync(named, 'utf8'), `${folder}/${SCHEMA_FILE}`).to.equal(schemaText);
    }
  });

  it('the manifests backplan writes use it too', () => {
    const text = legacyManifest(parseBackupInfo('b.json', JSON.stringify({ periodicity: 2, backup_dir: '/srv/b' })), 'b.json');
    expect(text.split('\n')[0]).to.equal(MODELINE);
  });

  it('backplan schema --write FOLDER puts the schema where the modeline looks; --write FILE writes that file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'backplan-schema-'));
    try {
      const cli = (...args: string[]) => promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/bin/backplan.cjs'), ...args], { cwd: dir });
      const folder = await cli('schema', '--write', '.');
      expect(folder.stderr).to.equal(`wrote ${SCHEMA_FILE}; manifests beside it start with:\n${MODELINE}\n`);
      expect(readFileSync(path.join(dir, SCHEMA_FILE), 'utf8')).to.equal(schemaText);
      await cli('schema', '--write', 'other.json');
      expect(readFileSync(path.join(dir, 'other.json'), 'utf8')).to.equal(schemaText);
      const refused = await cli('schema', '--write', 'no/such/folder/x.json').catch((e: { code: number; stderr: string }) => e);
      expect(refused).to.include({ code: 2 });
      expect((refused as { stderr: string }).stderr).to.match(/^cannot write the schema to no\/such\/folder\/x\.json: ENOENT\n/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
