/**
 * What a dump must bring back, counted: the rows of every table in every schema of the
 * database (schema-qualified, `public.db_dbnode`), and its large objects. Read inside the run's
 * exported snapshot at backup time, so the counts match the dump exactly; read again after a
 * restore test to compare.
 */
import type pg from 'pg';

/** The key large objects are counted under (no table can be named so: it holds a space). */
export const LARGE_OBJECTS = 'large objects';

const USER_TABLES = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  ORDER BY 1, 2`;

export async function countRowsIn(client: pg.Client): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { schema, name } of (await client.query<{ schema: string; name: string }>(USER_TABLES)).rows) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`);
    counts[tableKey(schema, name)] = Number(rows[0]!.n);
  }
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_largeobject_metadata');
  counts[LARGE_OBJECTS] = Number(rows[0]!.n);
  return counts;
}

export function tableKey(schema: string, name: string): string {
  return `${schema}.${name}`;
}

/** Snapshots written before counts were schema-qualified name public tables bare. */
export function qualifiedKey(key: string): string {
  return key === LARGE_OBJECTS || key.includes('.') ? key : tableKey('public', key);
}
