/**
 * The roles a database's dump names (#13). Roles live in the cluster, not in the database, so a
 * dump loaded onto another server fails on the first `ALTER … OWNER TO x` or `GRANT … TO y`
 * whose role is missing there. Read inside the run's exported snapshot, so the list matches the
 * dump; by how a restore meets each role:
 *
 *   owners    own a dumped object (ALTER … OWNER TO); not needed under pg_restore --no-owner
 *   grantees  grantee or grantor in an object's ACL other than its owner (whose own entry
 *             pg_dump leaves implicit), or in default privileges (GRANT, ALTER DEFAULT
 *             PRIVILEGES); not needed under --no-privileges
 *   others    named by a row-level security policy or a user mapping: always needed
 *
 * Objects of system schemas and of extensions are left out (pg_dump does not dump them one by
 * one), and so are the predefined pg_* roles every server has.
 */
import type pg from 'pg';
import type { DatabaseRoles } from '../record/snapshot-record.js';

/** The roles the dump names, and the database's own owner (createdb's --owner decides that one on restore). */
export interface NeededRoles {
  owner: string;
  roles: DatabaseRoles;
}

/** Every role of `r`, and the database owner, once each, sorted. */
export function allRoles(r: Partial<NeededRoles> & { roles: DatabaseRoles }): string[] {
  return [...new Set([...(r.owner !== undefined ? [r.owner] : []), ...r.roles.owners, ...r.roles.grantees, ...r.roles.others])].sort();
}

const USER_SCHEMAS = `SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'`;

/** [catalog, owner column, ACL column or null, namespace column or null, first server_version_num]. */
const CATALOGS: [string, string, string | null, string | null, number][] = [
  ['pg_class', 'relowner', 'relacl', 'relnamespace', 0],
  ['pg_proc', 'proowner', 'proacl', 'pronamespace', 0],
  ['pg_type', 'typowner', 'typacl', 'typnamespace', 0],
  ['pg_collation', 'collowner', null, 'collnamespace', 0],
  ['pg_conversion', 'conowner', null, 'connamespace', 0],
  ['pg_operator', 'oprowner', null, 'oprnamespace', 0],
  ['pg_opclass', 'opcowner', null, 'opcnamespace', 0],
  ['pg_opfamily', 'opfowner', null, 'opfnamespace', 0],
  ['pg_ts_config', 'cfgowner', null, 'cfgnamespace', 0],
  ['pg_ts_dict', 'dictowner', null, 'dictnamespace', 0],
  ['pg_statistic_ext', 'stxowner', null, 'stxnamespace', 100000],
  ['pg_largeobject_metadata', 'lomowner', 'lomacl', null, 0],
  ['pg_language', 'lanowner', 'lanacl', null, 0],
  ['pg_foreign_data_wrapper', 'fdwowner', 'fdwacl', null, 0],
  ['pg_foreign_server', 'srvowner', 'srvacl', null, 0],
  ['pg_event_trigger', 'evtowner', null, null, 0],
  ['pg_publication', 'pubowner', null, null, 100000],
];

/** Objects as (classid, objid, owner, acl): schemas by name, the rest by schema or, unnamespaced, by oid above the built-in ones. */
function objectsSql(versionNum: number): string {
  const parts = [`SELECT 'pg_namespace'::regclass AS classid, oid AS objid, nspowner AS owner, nspacl AS acl FROM pg_namespace WHERE oid IN (${USER_SCHEMAS})`];
  for (const [catalog, owner, acl, namespace, since] of CATALOGS) {
    if (versionNum < since) continue;
    const where = namespace ? `${namespace} IN (${USER_SCHEMAS})` : 'oid >= 16384';
    parts.push(`SELECT '${catalog}'::regclass, oid, ${owner}, ${acl ?? 'NULL::aclitem[]'} FROM ${catalog} WHERE ${where}`);
  }
  parts.push(`SELECT 'pg_class'::regclass, c.oid, c.relowner, a.attacl FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE a.attacl IS NOT NULL AND c.relnamespace IN (${USER_SCHEMAS})`);
  return parts.join('\n  UNION ALL ');
}

function neededRolesSql(versionNum: number): string {
  return `
WITH objects AS (
  ${objectsSql(versionNum)}
), dumped AS (
  SELECT o.* FROM objects o
  WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e')
), uses(role, use) AS (
  SELECT owner, 'owners' FROM dumped WHERE owner IS NOT NULL
  UNION SELECT a.grantee, 'grantees' FROM dumped, aclexplode(dumped.acl) a WHERE a.grantee <> dumped.owner
  UNION SELECT a.grantor, 'grantees' FROM dumped, aclexplode(dumped.acl) a WHERE a.grantor <> dumped.owner
  UNION SELECT defaclrole, 'grantees' FROM pg_default_acl
  UNION SELECT a.grantee, 'grantees' FROM pg_default_acl, aclexplode(defaclacl) a
  UNION SELECT a.grantor, 'grantees' FROM pg_default_acl, aclexplode(defaclacl) a
  UNION SELECT unnest(polroles), 'others' FROM pg_policy
  UNION SELECT umuser, 'others' FROM pg_user_mappings
)
SELECT r.rolname AS name, u.use FROM uses u JOIN pg_roles r ON r.oid = u.role
WHERE r.rolname NOT LIKE 'pg\\_%'
ORDER BY 1, 2`;
}

/** Asked on `client`, inside whatever transaction (snapshot) it holds. */
export async function neededRoles(client: pg.Client): Promise<NeededRoles> {
  const versionNum = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v);
  const owner = (await client.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()')).rows[0]!.owner;
  const roles: DatabaseRoles = { owners: [], grantees: [], others: [] };
  for (const { name, use } of (await client.query<{ name: string; use: keyof DatabaseRoles }>(neededRolesSql(versionNum))).rows) roles[use].push(name);
  return { owner, roles };
}
