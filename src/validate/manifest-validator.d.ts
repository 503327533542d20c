/** The manifest schema compiled by ajv at build time (scripts/compile-schema.ts). */
import type { ValidateFunction } from 'ajv';
import type { Manifest } from '../manifest.js';

declare const validate: ValidateFunction<Manifest>;
export default validate;
