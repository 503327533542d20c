/**
 * The change query: which nodes changed after a watermark, read inside the run's exported
 * database snapshot through a server-side cursor, so the list is never whole in memory and
 * agrees with the dump (SPEC: Consistency).
 */
import type pg from 'pg';
import { connect, databaseError } from '../db/connect.js';
import { BackplanError } from '../errors.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import type { NodeLayout, NodeRow } from './layout.js';
import type { WindowRecord } from './record.js';

/** Rows per FETCH: large enough to amortise round trips, small enough to bound memory. */
const FETCH_ROWS = 2000;
const CURSOR = 'backplan_changes';

export interface SnapshotSession {
  client: pg.Client;
  /** The database clock of this transaction's start. */
  clock: Date;
  /** A failed query as a BackplanError naming the database (never its password). */
  failure(e: unknown): BackplanError;
  close(): Promise<void>;
}

/**
 * A read-only REPEATABLE READ transaction. Given an exported snapshot id it imports it, so it
 * sees exactly what the dump sees; without one (servers refusing exported snapshots, or plan
 * estimates) it has a snapshot of its own.
 */
export async function openSnapshotSession(db: DatabaseConnection, secrets: Secrets, exportedSnapshot?: string): Promise<SnapshotSession> {
  const client = await connect(db, secrets);
  const close = async () => {
    await client.query('COMMIT').catch(() => undefined);
    await client.end().catch(() => undefined);
  };
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // SET TRANSACTION SNAPSHOT takes no parameters: the id is quoted as a literal.
    if (exportedSnapshot !== undefined) await client.query(`SET TRANSACTION SNAPSHOT ${client.escapeLiteral(exportedSnapshot)}`);
    const { rows } = await client.query<{ clock: Date }>('SELECT now() AS clock');
    const failure = (e: unknown) => (e instanceof BackplanError ? e : databaseError(e, db));
    return { client, clock: rows[0]!.clock, failure, close };
  } catch (e) {
    await close();
    throw databaseError(e, db);
  }
}

export interface ChangeQuery {
  /** ISO time: nodes with mtime or ctime after it changed. */
  since: string;
  /** Split the backlog into windows of this length (see windows()); undefined: one window. */
  periodicityMs?: number;
}

/**
 * Batches of changed nodes, window after window. Each window is its own cursor pass, closed
 * before the next opens; `onWindow` hears of each window once its rows are all read.
 */
export async function* changedNodes(
  session: SnapshotSession,
  layout: NodeLayout,
  query: ChangeQuery,
  onWindow: (window: WindowRecord) => void = () => undefined,
): AsyncGenerator<NodeRow[]> {
  try {
    yield* windowPasses(session.client, layout, query, onWindow);
  } catch (e) {
    throw session.failure(e);
  }
}

async function* windowPasses(
  client: pg.Client,
  layout: NodeLayout,
  query: ChangeQuery,
  onWindow: (window: WindowRecord) => void,
): AsyncGenerator<NodeRow[]> {
  const columns = layout.kind === 'aiida-1' ? 'uuid::text AS uuid' : 'uuid::text AS uuid, repository_metadata';
  for await (const window of windows(client, query)) {
    const lit = (t: string) => `${client.escapeLiteral(t)}::timestamptz`;
    const after = (column: string) =>
      window.to === undefined ? `${column} > ${lit(window.from)}` : `(${column} > ${lit(window.from)} AND ${column} <= ${lit(window.to)})`;
    let nodes = 0;
    for await (const rows of cursorBatches<NodeRow>(client, `SELECT ${columns} FROM db_dbnode WHERE ${after('mtime')} OR ${after('ctime')}`)) {
      nodes += rows.length;
      yield rows;
    }
    onWindow({ from: isoOf(window.from), to: window.to === undefined ? undefined : isoOf(window.to), nodes });
  }
}

/** How many nodes changed after `since` (one indexed count, nothing copied). */
export async function countChangedNodes(session: SnapshotSession, since: string): Promise<number> {
  try {
    const { rows } = await session.client.query<{ n: string }>('SELECT count(*) AS n FROM db_dbnode WHERE mtime > $1 OR ctime > $1', [since]);
    return Number(rows[0]!.n);
  } catch (e) {
    throw session.failure(e);
  }
}

/**
 * The windows of `periodicity`, as backup_info.json had them: without a periodicity, one open
 * window after `since`. With one, each window starts where the previous ended, or later, at the
 * next change (so an idle month costs no empty passes), and spans `periodicity` of change
 * time; the last ends where no change follows. A node whose ctime and mtime fall in different
 * windows is listed in both: copied twice, harmlessly. Bounds stay PostgreSQL text, keeping
 * their microseconds (a JavaScript Date would round them and could drop a node at a bound).
 */
async function* windows(client: pg.Client, query: ChangeQuery): AsyncGenerator<{ from: string; to?: string }> {
  if (query.periodicityMs === undefined) {
    yield { from: query.since };
    return;
  }
  let from = query.since;
  for (;;) {
    const { rows } = await client.query<{ start: string | null; end: string | null }>(
      `WITH first AS (SELECT least((SELECT min(mtime) FROM db_dbnode WHERE mtime > $1), (SELECT min(ctime) FROM db_dbnode WHERE ctime > $1)) AS t)
       SELECT to_json(t) #>> '{}' AS start, to_json(t + $2 * interval '1 millisecond') #>> '{}' AS end FROM first`,
      [from, query.periodicityMs],
    );
    const next = rows[0]!;
    if (next.start === null || next.end === null) return;
    yield { from, to: next.end };
    from = next.end;
  }
}

/** Rows of `sql` through a server-side cursor, FETCH_ROWS at a time, inside the open transaction. */
async function* cursorBatches<R>(client: pg.Client, sql: string): AsyncGenerator<R[]> {
  await client.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${sql}`);
  try {
    for (;;) {
      const { rows } = await client.query<R & pg.QueryResultRow>(`FETCH ${FETCH_ROWS} FROM ${CURSOR}`);
      if (rows.length === 0) return;
      yield rows;
    }
  } finally {
    await client.query(`CLOSE ${CURSOR}`).catch(() => undefined);
  }
}

function isoOf(text: string): string {
  return new Date(text).toISOString();
}
