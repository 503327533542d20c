import { readFileSync } from 'node:fs';

/** backplan's own version, from package.json (dist/src/version.js → ../../package.json). */
export const TOOL_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
