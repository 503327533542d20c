/** The psql_dos-like database schema, as AiiDA creates it. */
import type { AiidaLayout } from './types.js';

/** Tables with primary keys only; 1.x (Django) had no repository_metadata column. */
export function tablesDdl(layout: AiidaLayout): string {
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
export const CONSTRAINTS_DDL = [
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
