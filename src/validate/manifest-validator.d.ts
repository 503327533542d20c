/** The manifest's value schema compiled by ajv at build time (scripts/compile-schema.ts). */
import type { ValidateFunction } from 'ajv';
import type { Manifest } from '../manifest.js';
import type { ScalarType } from './value-schema.js';

declare const validate: ValidateFunction<Manifest>;
export default validate;
/** Keys holding numbers or booleans, by path (`hooks.before[].always`). */
export declare const scalarTypes: Record<string, ScalarType>;
