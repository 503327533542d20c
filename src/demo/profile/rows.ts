/** The rows every profile starts with and the rows of each batch of generated nodes. */
import type pg from 'pg';
import type { NodeRecord } from './data.js';
import type { AiidaLayout } from './types.js';

export const USER_EMAIL = 'demo@backplan.invalid';
const COMPUTER_LABEL = 'localhost';
const GROUP_LABEL = 'backplan-demo';

/** The user, computer and group every generated node belongs to. */
export async function seedRows(client: pg.Client, seed: number, containerId?: string): Promise<void> {
  await client.query(`INSERT INTO db_dbuser (email, first_name, last_name) VALUES ($1, 'Demo', 'User')`, [USER_EMAIL]);
  await client.query(
    `INSERT INTO db_dbcomputer (uuid, label, hostname, scheduler_type, transport_type)
     VALUES (md5('computer:' || $1)::uuid, $2, 'localhost', 'core.direct', 'core.local')`,
    [seed, COMPUTER_LABEL],
  );
  await client.query('INSERT INTO db_dbauthinfo (aiidauser_id, dbcomputer_id) SELECT u.id, c.id FROM db_dbuser u, db_dbcomputer c');
  await client.query(
    `INSERT INTO db_dbgroup (uuid, label, type_string, user_id) SELECT md5('group:' || $1)::uuid, $2, 'core', id FROM db_dbuser`,
    [seed, GROUP_LABEL],
  );
  if (containerId) {
    // AiiDA refuses to start when this differs from the container's config.json container_id.
    await client.query(`INSERT INTO db_dbsetting (key, val, description) VALUES ('repository|uuid', $1::jsonb, 'Repository UUID')`, [
      JSON.stringify(containerId),
    ]);
  }
}

const NODE_TYPES: Record<AiidaLayout, string[]> = {
  'aiida-1': ['data.dict.Dict.', 'process.calculation.calcjob.CalcJobNode.', 'data.folder.FolderData.'],
  'disk-objectstore': ['data.core.dict.Dict.', 'process.calculation.calcjob.CalcJobNode.', 'data.core.folder.FolderData.'],
};
const PROCESS_TYPE: Record<AiidaLayout, string> = {
  'aiida-1': 'aiida.calculations:arithmetic.add',
  'disk-objectstore': 'aiida.calculations:core.arithmetic.add',
};

export interface RowContext {
  client: pg.Client;
  layout: AiidaLayout;
  /** The ordinal after the last node of this generation, to spread ctime over historyDays. */
  end: number;
  historyDays: number;
}

/**
 * One statement per batch: the nodes, the links of each (input → calculation → output) triple
 * and the calculations' group membership. ctime = mtime, spread over historyDays up to now().
 */
export async function insertNodes(ctx: RowContext, nodes: NodeRecord[]): Promise<void> {
  const v2 = ctx.layout === 'disk-objectstore';
  const rows = nodes.map((n) => ({ i: n.i, uuid: n.uuid, meta: v2 ? repositoryMetadata(n) : undefined }));
  await ctx.client.query(
    `WITH src AS (SELECT * FROM json_to_recordset($1::json) AS r(i integer, uuid uuid, meta jsonb)),
     ins AS (
       INSERT INTO db_dbnode (uuid, node_type, process_type, label, ctime, mtime, attributes, extras, ${v2 ? 'repository_metadata,' : ''} dbcomputer_id, user_id)
       SELECT uuid, ($2::text[])[i % 3 + 1], CASE WHEN i % 3 = 1 THEN $3 END, 'node-' || i, t, t,
              CASE i % 3 WHEN 0 THEN jsonb_build_object('x', i, 'y', i % 97)
                         WHEN 1 THEN '{"process_state": "finished", "exit_status": 0, "process_label": "ArithmeticAddCalculation", "sealed": true}'::jsonb
                         ELSE '{}'::jsonb END,
              '{}'::jsonb, ${v2 ? 'meta,' : ''}
              CASE WHEN i % 3 = 1 THEN (SELECT id FROM db_dbcomputer WHERE label = '${COMPUTER_LABEL}') END,
              (SELECT id FROM db_dbuser WHERE email = '${USER_EMAIL}')
       FROM src, LATERAL (SELECT now() - make_interval(secs => $4::float8 * 86400 * (1 - (i + 1)::float8 / $5)) AS t) AS times
       ORDER BY i
       RETURNING id, uuid),
     num AS (SELECT ins.id, src.i FROM ins JOIN src USING (uuid)),
     links AS (
       INSERT INTO db_dblink (input_id, output_id, label, type)
       SELECT a.id, b.id, CASE WHEN a.i % 3 = 0 THEN 'x' ELSE 'retrieved' END, CASE WHEN a.i % 3 = 0 THEN 'input_calc' ELSE 'create' END
       FROM num a JOIN num b ON b.i = a.i + 1 WHERE a.i % 3 <> 2)
     INSERT INTO db_dbgroup_dbnodes (dbnode_id, dbgroup_id)
     SELECT id, (SELECT id FROM db_dbgroup WHERE label = '${GROUP_LABEL}') FROM num WHERE i % 3 = 1`,
    [JSON.stringify(rows), NODE_TYPES[ctx.layout], PROCESS_TYPE[ctx.layout], ctx.historyDays, ctx.end],
  );
}

/** AiiDA 2.x: a folder is {"o": {name: child}}, a file {"k": key}; a node without files is {}. */
function repositoryMetadata(node: NodeRecord): object {
  if (!node.files.length) return {};
  return { o: Object.fromEntries(node.files.map((f) => [f.name, { k: f.key }])) };
}
