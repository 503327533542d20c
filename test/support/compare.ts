/** What round-trip tests compare: every file's sha256, and a database as text. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectTo } from '../../src/demo/cluster.js';
import type { PgServer } from '../../src/demo/cluster.js';
import { sha256File, walkFileNames } from '../../src/record/checksums.js';
import { binaryName, displayName } from '../../src/util/names.js';

const exec = promisify(execFile);

/** sha256 of every file under root, by relative path (as text: a name that is not UTF-8 shows escaped). */
export async function fileHashes(root: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  const base = Buffer.from(root);
  for await (const path of walkFileNames(base)) hashes[displayName(binaryName(path))] = (await sha256File(Buffer.concat([base, Buffer.from('/'), path]))).sha256;
  return hashes;
}

/**
 * A database as text: `pg_dump --schema-only`, then every table's rows ordered by its primary
 * key (COPY text format), then every sequence's position.
 */
export async function databaseText(server: PgServer, name: string): Promise<string> {
  const env = { ...process.env, ...server.env, PGDATABASE: name };
  const schema = (await exec('pg_dump', ['--schema-only', '--no-password'], { env, maxBuffer: 64 << 20 })).stdout;
  // pg_dump 15.14+ fences its output with \restrict lines holding a random key.
  const parts = [schema.replace(/^\\(un)?restrict .*$/gm, '')];
  const client = await connectTo(server, name);
  try {
    const { rows } = await client.query<{ tbl: string; pk: string }>(
      `SELECT format('%I', c.relname) AS tbl, string_agg(format('%I', a.attname), ', ' ORDER BY array_position(i.indkey, a.attnum)) AS pk
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
       WHERE i.indisprimary AND n.nspname = 'public' GROUP BY c.relname ORDER BY c.relname`,
    );
    expect(rows.length, 'tables with a primary key').to.be.greaterThan(3);
    // One psql for all tables: each COPY's output follows an \echo naming its table.
    const commands = rows.flatMap(({ tbl, pk }) => ['-c', `\\echo -- ${tbl}`, '-c', `COPY (SELECT * FROM ${tbl} ORDER BY ${pk}) TO STDOUT`]);
    parts.push((await exec('psql', ['--no-psqlrc', '--no-password', '--set=ON_ERROR_STOP=1', ...commands], { env, maxBuffer: 64 << 20 })).stdout);
    const sequences = await client.query('SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2');
    parts.push(JSON.stringify(sequences.rows));
  } finally {
    await client.end();
  }
  return parts.join('\n');
}
