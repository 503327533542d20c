/**
 * Build step: compiles the *value schema* of schemas/manifest.schema.json (src/validate/value-schema.ts:
 * the schema as it applies after `${VAR}` expansion) with ajv into a standalone validator module,
 * dist/src/validate/manifest-validator.js, so that no command pays for compiling the schema at
 * start-up (about 80 ms: most of `backplan validate`'s time on a small manifest). The module also
 * exports `scalarTypes`, the keys an expanded value is converted for. Run by `npm run build`
 * after tsc; src/validate/manifest-validator.d.ts types the module.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import addFormatsModule from 'ajv-formats';
import { scalarTypes, valueSchema } from '../src/validate/value-schema.js';
import type { SchemaNode } from '../src/validate/value-schema.js';

// Both ship CommonJS; their default exports arrive wrapped under NodeNext.
const standaloneCode = standaloneCodeModule as unknown as (ajv: Ajv, validate: unknown) => string;
const addFormats = addFormatsModule as unknown as (ajv: Ajv, options: { mode: 'fast'; formats: string[]; keywords: boolean }) => Ajv;

const schema = valueSchema(JSON.parse(readFileSync(new URL('../../schemas/manifest.schema.json', import.meta.url), 'utf8')) as SchemaNode);
const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, code: { source: true, esm: true } });
// Fast mode: a scheme and no whitespace. The full RFC 3986 pattern took 8 ms to compile on its
// first use, in every command that read a manifest with a ping URL; the ping itself reports a URL
// that cannot be requested.
addFormats(ajv, { mode: 'fast', formats: ['uri'], keywords: false });
const code = standaloneCode(ajv, ajv.compile(schema));
// ajv's ESM output still require()s its runtime helpers (string length, formats).
const header = "import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n";
const types = `\nexport const scalarTypes = ${JSON.stringify(scalarTypes(schema))};\n`;
writeFileSync(new URL('../src/validate/manifest-validator.js', import.meta.url), header + code.replace(/^"use strict";/, '') + types);
