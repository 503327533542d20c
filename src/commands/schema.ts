/**
 * The manifest JSON Schema for editors. Every manifest backplan writes, and every sample in this
 * repository, starts with the one modeline below: the schema beside the manifest, put there by
 * `backplan schema --write FOLDER` (again after an upgrade). A relative `$schema` is resolved
 * from the manifest's own folder, so the same line works in any checkout of any repository.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BackplanError } from '../errors.js';
import { PACKAGE_ROOT } from '../version.js';

export const SCHEMA_FILE = 'manifest.schema.json';
export const MODELINE = `# yaml-language-server: $schema=${SCHEMA_FILE}`;

export function schemaText(): Promise<string> {
  return readFile(path.join(PACKAGE_ROOT, 'schemas', SCHEMA_FILE), 'utf8');
}

/** Writes the schema to `target` (a file, or a folder to hold manifest.schema.json); returns the file. */
export async function writeSchema(target: string): Promise<string> {
  const info = await stat(target).catch(() => undefined);
  const file = info?.isDirectory() ? path.join(target, SCHEMA_FILE) : target;
  try {
    await writeFile(file, await schemaText());
  } catch (e) {
    throw new BackplanError('USAGE', `cannot write the schema to ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: `name a folder (it gets ${SCHEMA_FILE}) or a file in an existing folder`,
    });
  }
  return file;
}
