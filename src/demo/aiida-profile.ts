/**
 * An AiiDA-like profile for `backplan demo`, the tests and the benchmarks: a config.json, a
 * psql_dos-like database and a repository in either AiiDA 1.x or 2.x (disk-objectstore) layout.
 * Nodes are made in batches (bounded memory, up to ~1M nodes); a node's files are on disk before
 * its row is committed, as AiiDA does, so a profile is consistent at every moment.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir as mkdirCb, writeFile as writeFileCb } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { BackplanError } from '../errors.js';
import { connectTo } from './cluster.js';
import type { PgServer } from './cluster.js';

export type AiidaLayout = 'aiida-1' | 'disk-objectstore';

export interface GenerateOptions {
  /** Profile root to create: gets `.aiida/config.json` and `repository/`. */
  dir: string;
  server: PgServer;
  /** An existing, empty database. */
  database: string;
  layout: AiidaLayout;
  nodes: number;
  /** Default 2; 0 makes a database-only profile. */
  filesPerNode?: number;
  /** Default 200. */
  fileBytes?: number;
  /** Default 'demo'. */
  profileName?: string;
  /** Node uuids and file contents follow from it; default 1. */
  seed?: number;
  /** 2.x: objects appended to packs (uncompressed) instead of loose files. */
  packed?: boolean;
  /** 2.x: a pack is closed once it reaches this size; default 4 GiB as in disk-objectstore. */
  packSizeTarget?: number;
  /** ctime/mtime of the generated nodes spread evenly over this many days up to now; default 30. */
  historyDays?: number;
  log?: (line: string) => void;
}

export interface GeneratedProfile {
  /** `<dir>/.aiida/config.json`. */
  configPath: string;
  /** The path of the config's repository URI: holds `repository/node/…` (1.x) or `container/` (2.x). */
  repositoryPath: string;
  profileName: string;
  /** Nodes in the database, updated by addNodes. */
  nodes: number;
  layout: AiidaLayout;
  seed: number;
  filesPerNode: number;
  fileBytes: number;
  packSizeTarget: number;
}

export interface AddNodesOptions {
  server: PgServer;
  database: string;
  count: number;
  /** Default: the profile's layout. */
  layout?: AiidaLayout;
  packed?: boolean;
}

export interface TouchNodesOptions {
  server: PgServer;
  database: string;
  /** How many nodes to touch: those with the oldest mtime, so repeated calls touch new ones. */
  count: number;
}

const BATCH = 3000; // a multiple of 3, so that whole (input, calculation, output) triples share a batch
const WRITES_IN_FLIGHT = 64;
// For the many small repository files: fs.promises.writeFile goes through a FileHandle and costs
// about twice the CPU of the callback API, which dominates on a fast (tmpfs) disk.
const writeSmallFile = promisify(writeFileCb);
const mkdirs = (dir: string) => promisify(mkdirCb)(dir, { recursive: true });
const USER_EMAIL = 'demo@backplan.invalid';
const COMPUTER_LABEL = 'localhost';
const GROUP_LABEL = 'backplan-demo';

// ---------------------------------------------------------------------------------------------
// Database schema

/** The psql_dos tables with their keys, unique constraints, foreign keys and indexes. */
export async function createAiidaSchema(client: pg.Client, layout: AiidaLayout = 'disk-objectstore'): Promise<void> {
  await client.query(tablesDdl(layout));
  await client.query(CONSTRAINTS_DDL);
}

/** Tables with primary keys only; 1.x (Django) had no repository_metadata column. */
function tablesDdl(layout: AiidaLayout): string {
  const repositoryMetadata = layout === 'disk-objectstore' ? `repository_metadata jsonb NOT NULL DEFAULT '{}',` : '';
  return `
    CREATE TABLE db_dbuser (
      id serial PRIMARY KEY, email varchar(254) NOT NULL, first_name varchar(254) NOT NULL DEFAULT '',
      last_name varchar(254) NOT NULL DEFAULT '', institution varchar(254) NOT NULL DEFAULT '');
    CREATE TABLE db_dbcomputer (
      id serial PRIMARY KEY, uuid uuid NOT NULL, label varchar(255) NOT NULL,
      hostname varchar(255) NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',
      scheduler_type varchar(255) NOT NULL DEFAULT '', transport_type varchar(255) NOT NULL DEFAULT '',
      metadata jsonb NOT NULL DEFAULT '{}');
    CREATE TABLE db_dbauthinfo (
      id serial PRIMARY KEY, aiidauser_id integer NOT NULL, dbcomputer_id integer NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}', auth_params jsonb NOT NULL DEFAULT '{}', enabled boolean NOT NULL DEFAULT true);
    CREATE TABLE db_dbnode (
      id serial PRIMARY KEY, uuid uuid NOT NULL, node_type varchar(255) NOT NULL DEFAULT '',
      process_type varchar(255), label varchar(255) NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',
      ctime timestamptz NOT NULL DEFAULT now(), mtime timestamptz NOT NULL DEFAULT now(),
      attributes jsonb DEFAULT '{}', extras jsonb DEFAULT '{}', ${repositoryMetadata}
      dbcomputer_id integer, user_id integer NOT NULL);
    CREATE TABLE db_dblink (
      id serial PRIMARY KEY, input_id integer NOT NULL, output_id integer NOT NULL,
      label varchar(255) NOT NULL, type varchar(255) NOT NULL);
    CREATE TABLE db_dbgroup (
      id serial PRIMARY KEY, uuid uuid NOT NULL, label varchar(255) NOT NULL,
      type_string varchar(255) NOT NULL DEFAULT '', time timestamptz NOT NULL DEFAULT now(),
      description text NOT NULL DEFAULT '', extras jsonb NOT NULL DEFAULT '{}', user_id integer NOT NULL);
    CREATE TABLE db_dbgroup_dbnodes (id serial PRIMARY KEY, dbnode_id integer NOT NULL, dbgroup_id integer NOT NULL);
    CREATE TABLE db_dbcomment (
      id serial PRIMARY KEY, uuid uuid NOT NULL, dbnode_id integer NOT NULL,
      ctime timestamptz NOT NULL DEFAULT now(), mtime timestamptz NOT NULL DEFAULT now(),
      user_id integer NOT NULL, content text NOT NULL DEFAULT '');
    CREATE TABLE db_dblog (
      id serial PRIMARY KEY, uuid uuid NOT NULL, time timestamptz NOT NULL DEFAULT now(),
      loggername varchar(255) NOT NULL DEFAULT '', levelname varchar(50) NOT NULL DEFAULT '',
      dbnode_id integer NOT NULL, message text NOT NULL DEFAULT '', metadata jsonb NOT NULL DEFAULT '{}');
    CREATE TABLE db_dbsetting (
      id serial PRIMARY KEY, key varchar(1024) NOT NULL, val jsonb DEFAULT '{}',
      description text NOT NULL DEFAULT '', time timestamptz NOT NULL DEFAULT now());`;
}

/** AiiDA's foreign keys are DEFERRABLE INITIALLY DEFERRED. */
function fk(table: string, column: string, target: string, onDelete = ''): string {
  return `ALTER TABLE ${table} ADD FOREIGN KEY (${column}) REFERENCES ${target}(id) ${onDelete} DEFERRABLE INITIALLY DEFERRED;`;
}

/** Apart from the tables so that a bulk load can add them afterwards, in one pass each. */
const CONSTRAINTS_DDL = [
  'ALTER TABLE db_dbuser ADD UNIQUE (email);',
  'ALTER TABLE db_dbcomputer ADD UNIQUE (uuid), ADD UNIQUE (label);',
  'ALTER TABLE db_dbauthinfo ADD UNIQUE (aiidauser_id, dbcomputer_id);',
  'ALTER TABLE db_dbnode ADD UNIQUE (uuid);',
  'ALTER TABLE db_dbgroup ADD UNIQUE (uuid), ADD UNIQUE (label, type_string);',
  'ALTER TABLE db_dbgroup_dbnodes ADD UNIQUE (dbgroup_id, dbnode_id);',
  'ALTER TABLE db_dbcomment ADD UNIQUE (uuid);',
  'ALTER TABLE db_dblog ADD UNIQUE (uuid);',
  'ALTER TABLE db_dbsetting ADD UNIQUE (key);',
  fk('db_dbauthinfo', 'aiidauser_id', 'db_dbuser', 'ON DELETE CASCADE'),
  fk('db_dbauthinfo', 'dbcomputer_id', 'db_dbcomputer', 'ON DELETE CASCADE'),
  fk('db_dbnode', 'dbcomputer_id', 'db_dbcomputer', 'ON DELETE RESTRICT'),
  fk('db_dbnode', 'user_id', 'db_dbuser', 'ON DELETE RESTRICT'),
  fk('db_dblink', 'input_id', 'db_dbnode'),
  fk('db_dblink', 'output_id', 'db_dbnode', 'ON DELETE CASCADE'),
  fk('db_dbgroup', 'user_id', 'db_dbuser', 'ON DELETE CASCADE'),
  fk('db_dbgroup_dbnodes', 'dbnode_id', 'db_dbnode'),
  fk('db_dbgroup_dbnodes', 'dbgroup_id', 'db_dbgroup'),
  fk('db_dbcomment', 'dbnode_id', 'db_dbnode', 'ON DELETE CASCADE'),
  fk('db_dbcomment', 'user_id', 'db_dbuser', 'ON DELETE CASCADE'),
  fk('db_dblog', 'dbnode_id', 'db_dbnode', 'ON DELETE CASCADE'),
  ...['ctime', 'mtime', 'node_type', 'process_type', 'label', 'dbcomputer_id', 'user_id'].map((c) => `CREATE INDEX ix_db_dbnode_${c} ON db_dbnode (${c});`),
  ...['input_id', 'output_id', 'label', 'type'].map((c) => `CREATE INDEX ix_db_dblink_${c} ON db_dblink (${c});`),
  'CREATE INDEX ix_db_dbgroup_dbnodes_dbnode_id ON db_dbgroup_dbnodes (dbnode_id);',
].join('\n');

/** The user, computer and group every generated node belongs to. */
async function seedRows(client: pg.Client, seed: number, containerId?: string): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Node records: deterministic from (seed, ordinal)

interface NodeFile {
  name: string;
  data: Buffer;
  /** sha256 hex of data: the disk-objectstore key. */
  key: string;
}

interface NodeRecord {
  /** 0-based ordinal over the profile's life; i % 3 picks input data, calculation, output data. */
  i: number;
  uuid: string;
  files: NodeFile[];
}

/** Shaped like AiiDA's uuid4s, but derived from md5 of (seed, ordinal) so that a seed replays a profile. */
function nodeUuid(seed: number, i: number): string {
  const h = createHash('md5').update(`backplan:${seed}:${i}`).digest('hex').split('');
  h[12] = '4';
  h[16] = ((parseInt(h[16]!, 16) & 3) | 8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Hex text from a sha256 chain: file bodies are slices of it, cheap and not trivially compressible. */
function fillerPool(seed: number, minBytes: number): Buffer {
  const size = Math.max(1 << 16, 2 * minBytes);
  const pool = Buffer.alloc(size);
  let block = createHash('sha256').update(`filler:${seed}`).digest();
  for (let at = 0; at < size; at += 64) {
    pool.write(block.toString('hex'), at, 'latin1');
    block = createHash('sha256').update(block).digest();
  }
  return pool;
}

/** The header makes every file distinct; the body is a seed-determined slice of the pool. */
function fileData(pool: Buffer, uuid: string, name: string, index: number, bytes: number, extra = ''): Buffer {
  const head = Buffer.from(`backplan demo node ${uuid} ${name}${extra}\n`);
  const body = Math.max(0, bytes - head.length);
  const offset = (index * 7919) % (pool.length - body + 1);
  return Buffer.concat([head, pool.subarray(offset, offset + body)]);
}

function makeFile(pool: Buffer, uuid: string, name: string, index: number, bytes: number, extra = ''): NodeFile {
  const data = fileData(pool, uuid, name, index, bytes, extra);
  return { name, data, key: createHash('sha256').update(data).digest('hex') };
}

function makeNodes(p: GeneratedProfile, pool: Buffer, start: number, count: number): NodeRecord[] {
  const nodes: NodeRecord[] = [];
  for (let i = start; i < start + count; i++) {
    const uuid = nodeUuid(p.seed, i);
    const files = Array.from({ length: p.filesPerNode }, (_, j) => makeFile(pool, uuid, `file-${j}.txt`, i * p.filesPerNode + j, p.fileBytes));
    nodes.push({ i, uuid, files });
  }
  return nodes;
}

// ---------------------------------------------------------------------------------------------
// Repository writers

interface RepositoryWriter {
  /** Resolves once every file of `nodes` is on disk (and, for packs, indexed). */
  write(nodes: NodeRecord[]): Promise<void>;
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** AiiDA 1.x: `repository/node/<uuid[:2]>/<uuid[2:4]>/<uuid[4:]>/path/<file>`. */
function nodeFolder(repositoryPath: string, uuid: string): string {
  return join(repositoryPath, 'repository', 'node', uuid.slice(0, 2), uuid.slice(2, 4), uuid.slice(4), 'path');
}

function nodeFolderWriter(repositoryPath: string): RepositoryWriter {
  return {
    write: (nodes) =>
      forEachLimit(nodes, WRITES_IN_FLIGHT, async (node) => {
        if (!node.files.length) return; // a database-only profile (filesPerNode 0) has no folders
        const folder = nodeFolder(repositoryPath, node.uuid);
        await mkdirs(folder);
        for (const f of node.files) await writeSmallFile(join(folder, f.name), f.data);
      }),
  };
}

/** disk-objectstore loose objects: `loose/<key[:2]>/<key[2:]>`, uncompressed. */
function looseWriter(container: string): RepositoryWriter {
  const prefixes = new Map<string, Promise<unknown>>();
  const prefixDir = (key: string) => {
    const dir = join(container, 'loose', key.slice(0, 2));
    if (!prefixes.has(dir)) prefixes.set(dir, mkdirs(dir));
    return prefixes.get(dir)!.then(() => dir);
  };
  return {
    write: (nodes) =>
      forEachLimit(
        nodes.flatMap((n) => n.files),
        WRITES_IN_FLIGHT,
        async (f) => writeSmallFile(join(await prefixDir(f.key), f.key.slice(2)), f.data),
      ),
  };
}

/** The pack that new objects go to: the highest-numbered one, appended at its end. */
async function currentPack(container: string): Promise<{ id: number; size: number }> {
  const ids = (await readdir(join(container, 'packs'))).filter((n) => /^\d+$/.test(n)).map(Number);
  const id = ids.length ? Math.max(...ids) : 0;
  const size = await stat(join(container, 'packs', String(id))).then((s) => s.size, () => 0);
  return { id, size };
}

/**
 * disk-objectstore packs: objects appended uncompressed, then indexed in packs.idx in one
 * SQLite transaction per batch; data lands in the pack before the index names it.
 */
async function packWriter(container: string, packSizeTarget: number): Promise<RepositoryWriter> {
  let pack = await currentPack(container);
  return {
    async write(nodes) {
      const rows: string[] = [];
      let chunks: Buffer[] = [];
      const flush = async () => {
        if (chunks.length) await appendFile(join(container, 'packs', String(pack.id)), Buffer.concat(chunks));
        chunks = [];
      };
      for (const f of nodes.flatMap((n) => n.files)) {
        if (pack.size > 0 && pack.size + f.data.length > packSizeTarget) {
          await flush();
          pack = { id: pack.id + 1, size: 0 };
        }
        rows.push(`('${f.key}', 0, ${f.data.length}, ${pack.size}, ${f.data.length}, ${pack.id})`);
        chunks.push(f.data);
        pack.size += f.data.length;
      }
      await flush();
      if (rows.length) await sqlite(join(container, 'packs.idx'), indexSql(rows));
    },
  };
}

/**
 * One transaction of multi-row INSERTs. synchronous=OFF (this session only) skips the fsyncs that
 * dominate on a busy disk; the pack data is still written before the rows naming it.
 */
function indexSql(values: string[]): string {
  const statements: string[] = [];
  for (let at = 0; at < values.length; at += 500) {
    statements.push(`INSERT INTO db_object (hashkey, compressed, size, offset, length, pack_id) VALUES ${values.slice(at, at + 500).join(',')};`);
  }
  return `PRAGMA synchronous=OFF;\nBEGIN;\n${statements.join('\n')}\nCOMMIT;\n`;
}

/** Node 20 has no SQLite binding: SQL goes to the sqlite3 CLI on stdin; -bail stops at the first error. */
function sqlite(dbPath: string, sql: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sqlite3', ['-bail', dbPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new BackplanError('COMMAND_FAILED', `cannot run sqlite3: ${e.message}`, { command: `sqlite3 ${dbPath}`, cause: e })));
    child.on('close', (code) => {
      if (code === 0) return resolve(stdout);
      reject(new BackplanError('COMMAND_FAILED', `sqlite3 ${dbPath} exited with code ${code}: ${stderr.trim()}`, { command: `sqlite3 ${dbPath}`, stderrTail: stderr }));
    });
    child.stdin.on('error', () => {}); // an early exit surfaces through 'close' with its stderr
    child.stdin.end(sql);
  });
}

/** An empty container as disk-objectstore's init_container leaves it. */
async function initContainer(container: string, containerId: string, packSizeTarget: number): Promise<void> {
  for (const sub of ['loose', 'packs', 'sandbox', 'duplicates']) await mkdir(join(container, sub), { recursive: true });
  const config = {
    container_version: 1,
    loose_prefix_len: 2,
    pack_size_target: packSizeTarget,
    hash_type: 'sha256',
    container_id: containerId,
    compression_algorithm: 'zlib+1',
  };
  await writeFile(join(container, 'config.json'), JSON.stringify(config));
  await sqlite(
    join(container, 'packs.idx'),
    `PRAGMA journal_mode=wal;
     CREATE TABLE db_object (id INTEGER NOT NULL, hashkey VARCHAR NOT NULL, compressed BOOLEAN NOT NULL,
       size INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, pack_id INTEGER NOT NULL, PRIMARY KEY (id));
     CREATE UNIQUE INDEX ix_db_object_hashkey ON db_object (hashkey);\n`,
  );
}

async function repositoryWriter(p: GeneratedProfile, layout: AiidaLayout, packed: boolean): Promise<RepositoryWriter> {
  if (layout === 'aiida-1') return nodeFolderWriter(p.repositoryPath);
  const container = join(p.repositoryPath, 'container');
  return packed ? packWriter(container, p.packSizeTarget) : looseWriter(container);
}

// ---------------------------------------------------------------------------------------------
// Node rows

const NODE_TYPES: Record<AiidaLayout, string[]> = {
  'aiida-1': ['data.dict.Dict.', 'process.calculation.calcjob.CalcJobNode.', 'data.folder.FolderData.'],
  'disk-objectstore': ['data.core.dict.Dict.', 'process.calculation.calcjob.CalcJobNode.', 'data.core.folder.FolderData.'],
};
const PROCESS_TYPE: Record<AiidaLayout, string> = {
  'aiida-1': 'aiida.calculations:arithmetic.add',
  'disk-objectstore': 'aiida.calculations:core.arithmetic.add',
};

interface RowContext {
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
async function insertNodes(ctx: RowContext, nodes: NodeRecord[]): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Generation

/**
 * Files of batch k are written while the rows of batch k-1 are inserted; batch k's rows start
 * only once its files are on disk.
 */
async function emitNodes(p: GeneratedProfile, writer: RepositoryWriter, ctx: RowContext, start: number, count: number, log: (l: string) => void): Promise<void> {
  const pool = fillerPool(p.seed, p.fileBytes);
  let inserting: Promise<void> = Promise.resolve();
  for (let at = start; at < start + count; at += BATCH) {
    const nodes = makeNodes(p, pool, at, Math.min(BATCH, start + count - at));
    await writer.write(nodes);
    await inserting;
    inserting = insertNodes(ctx, nodes);
    // Awaited in the next round; this stops a failure from being reported as unhandled meanwhile.
    inserting.catch(() => {});
    if ((at - start) % (BATCH * 10) === 0) log(`nodes ${at - start + nodes.length}/${count}`);
  }
  await inserting;
}

async function withClient<T>(server: PgServer, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectTo(server, database);
  try {
    return await fn(client);
  } catch (e) {
    if (e instanceof BackplanError) throw e;
    throw new BackplanError('DATABASE', `generating the demo profile in ${database} failed: ${(e as Error).message}`, { cause: e });
  } finally {
    await client.end();
  }
}

/** config.json: a 2.x (CONFIG_VERSION 9) or 1.x (version 5) shape, mode 0600; other profiles kept. */
async function writeConfig(o: GenerateOptions, p: GeneratedProfile): Promise<void> {
  const existing = await readFile(p.configPath, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
  const v2 = o.layout === 'disk-objectstore';
  const config = existing ?? {
    CONFIG_VERSION: v2 ? { CURRENT: 9, OLDEST_COMPATIBLE: 9 } : { CURRENT: 5, OLDEST_COMPATIBLE: 5 },
    profiles: {},
    default_profile: p.profileName,
    options: {},
  };
  const profiles = (config.profiles ?? {}) as Record<string, unknown>;
  profiles[p.profileName] = v2 ? profileV2(o, p) : profileV1(o, p);
  config.profiles = profiles;
  await mkdir(join(o.dir, '.aiida'), { recursive: true, mode: 0o700 });
  await writeFile(p.configPath, JSON.stringify(config, null, 4), { mode: 0o600 });
  await chmod(p.configPath, 0o600); // mode applies only when the file is created
}

const BROKER = { broker_protocol: 'amqp', broker_username: 'guest', broker_password: 'guest', broker_host: '127.0.0.1', broker_port: 5672, broker_virtual_host: '' };

function profileV2(o: GenerateOptions, p: GeneratedProfile): object {
  return {
    PROFILE_UUID: createHash('md5').update(`profile:${p.seed}:${p.profileName}`).digest('hex'),
    default_user_email: USER_EMAIL,
    storage: {
      backend: 'core.psql_dos',
      config: {
        database_engine: 'postgresql_psycopg',
        database_hostname: o.server.host,
        database_port: o.server.port,
        database_name: o.database,
        database_username: o.server.user,
        database_password: o.server.password ?? '',
        repository_uri: `file://${p.repositoryPath}`,
      },
    },
    process_control: { backend: 'core.rabbitmq', config: BROKER },
    options: {},
    test_profile: false,
  };
}

function profileV1(o: GenerateOptions, p: GeneratedProfile): object {
  return {
    PROFILE_UUID: createHash('md5').update(`profile:${p.seed}:${p.profileName}`).digest('hex'),
    AIIDADB_ENGINE: 'postgresql_psycopg2',
    AIIDADB_BACKEND: 'django',
    AIIDADB_HOST: o.server.host,
    AIIDADB_PORT: o.server.port,
    AIIDADB_NAME: o.database,
    AIIDADB_USER: o.server.user,
    AIIDADB_PASS: o.server.password ?? '',
    AIIDADB_REPOSITORY_URI: `file://${p.repositoryPath}`,
    default_user_email: USER_EMAIL,
    options: {},
    ...BROKER,
  };
}

export async function generateProfile(o: GenerateOptions): Promise<GeneratedProfile> {
  const log = o.log ?? (() => {});
  const p: GeneratedProfile = {
    configPath: join(o.dir, '.aiida', 'config.json'),
    repositoryPath: join(o.dir, 'repository'),
    profileName: o.profileName ?? 'demo',
    nodes: 0,
    layout: o.layout,
    seed: o.seed ?? 1,
    filesPerNode: o.filesPerNode ?? 2,
    fileBytes: o.fileBytes ?? 200,
    packSizeTarget: o.packSizeTarget ?? 4 * 1024 ** 3,
  };
  // disk-objectstore writes a uuid4().hex container_id; AiiDA stores the same in db_dbsetting.
  const containerId = o.layout === 'disk-objectstore' ? randomUUID().replace(/-/g, '') : undefined;
  if (containerId) await initContainer(join(p.repositoryPath, 'container'), containerId, p.packSizeTarget);
  else await mkdir(join(p.repositoryPath, 'repository', 'node'), { recursive: true });
  await writeConfig(o, p);
  await withClient(o.server, o.database, async (client) => {
    await client.query(tablesDdl(o.layout));
    await seedRows(client, p.seed, containerId);
    const writer = await repositoryWriter(p, o.layout, o.packed ?? false);
    await emitNodes(p, writer, { client, layout: o.layout, end: o.nodes, historyDays: o.historyDays ?? 30 }, 0, o.nodes, log);
    // Built once over the loaded rows, much faster than maintained row by row during the load.
    await client.query(CONSTRAINTS_DDL);
    await client.query('ANALYZE');
  });
  p.nodes = o.nodes;
  log(`profile ${p.profileName}: ${p.nodes} nodes, ${p.nodes * p.filesPerNode} files (${o.layout}${o.packed ? ', packed' : ''})`);
  return p;
}

/** New nodes and their files, created now (ctime = mtime = the database's now()). */
export async function addNodes(p: GeneratedProfile, o: AddNodesOptions): Promise<void> {
  const layout = o.layout ?? p.layout;
  await withClient(o.server, o.database, async (client) => {
    // The database, not p.nodes, says which ordinals are taken: p may be rebuilt by a caller.
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM db_dbnode');
    const start = rows[0]!.n;
    const writer = await repositoryWriter(p, layout, o.packed ?? false);
    await emitNodes(p, writer, { client, layout, end: start + o.count, historyDays: 0 }, start, o.count, () => {});
    p.nodes = start + o.count;
  });
}

/**
 * Sets mtime = now() (and bumps extras.touches) on the `count` least recently modified nodes;
 * for 1.x it first rewrites their file-0.txt, as AiiDA writes files before committing the row.
 * 2.x repositories are immutable once a node is stored, so there only the row changes.
 * Returns the touched uuids.
 */
export async function touchNodes(p: GeneratedProfile, o: TouchNodesOptions): Promise<string[]> {
  return withClient(o.server, o.database, async (client) => {
    const { rows } = await client.query<{ uuid: string; touches: number }>(
      `SELECT uuid::text, coalesce((extras->>'touches')::int, 0) AS touches FROM db_dbnode ORDER BY mtime, id LIMIT $1`,
      [o.count],
    );
    if (p.layout === 'aiida-1' && p.filesPerNode > 0) await rewriteFirstFiles(p, rows);
    await client.query(
      `UPDATE db_dbnode SET mtime = now(), extras = extras || jsonb_build_object('touches', coalesce((extras->>'touches')::int, 0) + 1)
       WHERE uuid = ANY($1::uuid[])`,
      [rows.map((r) => r.uuid)],
    );
    return rows.map((r) => r.uuid);
  });
}

async function rewriteFirstFiles(p: GeneratedProfile, rows: { uuid: string; touches: number }[]): Promise<void> {
  const pool = fillerPool(p.seed, p.fileBytes);
  await forEachLimit(rows, WRITES_IN_FLIGHT, async ({ uuid, touches }) => {
    const file = makeFile(pool, uuid, 'file-0.txt', 0, p.fileBytes, ` touch ${touches + 1}`);
    await writeSmallFile(join(nodeFolder(p.repositoryPath, uuid), file.name), file.data);
  });
}
