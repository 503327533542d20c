/**
 * Roles on the target server (#13). A dump names roles (db/roles.ts: owners, grantees, roles of
 * policies) that exist in the cluster it came from, not necessarily on the server it is restored
 * onto. Which of them the load needs depends on its options; those the target lacks are either
 * refused up front (preflight.ts, naming them and the fixes), or created from the snapshot's
 * database.roles.sql under --create-roles: their CREATE ROLE and ALTER ROLE lines and the
 * memberships among the roles created, as the administrative role, in one transaction, never
 * with a password. The creation is tried in the preflight and rolled back, so a server that
 * would refuse it refuses before anything is changed.
 */
import { join } from 'node:path';
import { databaseError } from '../db/connect.js';
import { readPlain } from '../execute/age.js';
import { parseRoleStatements, withoutGrantor } from '../db/roles-sql.js';
import type { DatabaseRoles, SnapshotRecord } from '../record/snapshot-record.js';
import type { DatabaseConnection, Secrets } from '../resolve/types.js';
import { ROLES_ARTEFACT } from '../steps/db-dump.js';
import { connectMaintenance } from './database.js';

export interface RolesPlan {
  /** Whether the snapshot records the roles its dump names (snapshots before #13 do not). */
  recorded: boolean;
  /** The roles the load needs (its owner apart) that the target lacks, by how the dump names them. */
  missing: DatabaseRoles;
  /** --create-roles: what is created before the database, in order. */
  create?: { roles: string[]; statements: string[] };
  /** Roles to create that database.roles.sql does not define. */
  undefinedRoles: string[];
  /** The server's refusal of the creation, tried and rolled back in the preflight. */
  refused?: string;
}

export interface RolesOptions {
  noOwner: boolean;
  noPrivileges: boolean;
  createRoles: boolean;
  /** The restored database's owner: created too when missing, under --create-roles. */
  owner: string;
  /** The roles file's name in the snapshot (`database.roles.sql`, `.age` when encrypted) and the identity for it. */
  rolesFile?: string;
  identity?: string;
}

/** The role names to ask the target about: every one the snapshot records, and the owner. */
export function rolesToAsk(record: SnapshotRecord['database'], owner: string): string[] {
  const r = record?.roles;
  return [...new Set([owner, ...(r ? [...r.owners, ...r.grantees, ...r.others] : [])])].sort();
}

/**
 * What the load needs that `existing` lacks; with --create-roles, the statements creating them
 * (the owner too) from the artefact, tried on the server as `runAs` and rolled back.
 */
export async function planRoles(
  record: SnapshotRecord['database'],
  snapshotDir: string,
  o: RolesOptions,
  existing: string[],
  server: { connection: DatabaseConnection; secrets: Secrets },
): Promise<RolesPlan> {
  const has = new Set(existing);
  const lacking = (names: string[] | undefined, skip: boolean) => (skip ? [] : (names ?? []).filter((n) => !has.has(n) && n !== o.owner));
  const r = record?.roles;
  const missing = { owners: lacking(r?.owners, o.noOwner), grantees: lacking(r?.grantees, o.noPrivileges), others: lacking(r?.others, false) };
  const plan: RolesPlan = { recorded: r !== undefined, missing, undefinedRoles: [] };
  const wanted = [...new Set([...(has.has(o.owner) ? [] : [o.owner]), ...missing.owners, ...missing.grantees, ...missing.others])].sort();
  if (!o.createRoles || !plan.recorded || wanted.length === 0) return plan;
  const text = await readPlain(join(snapshotDir, o.rolesFile ?? ROLES_ARTEFACT), o.identity).then(String, () => '');
  const parsed = parseRoleStatements(text);
  const defined = new Set(parsed.filter((s) => s.kind === 'role').map((s) => s.role));
  // The owner is created only when the artefact has it; else the preflight's owner check speaks.
  plan.undefinedRoles = wanted.filter((n) => !defined.has(n) && n !== o.owner);
  const roles = wanted.filter((n) => defined.has(n));
  if (roles.length === 0) return plan;
  const created = new Set(roles);
  // Memberships only among the roles created: an existing role of the target is never changed.
  const statements = parsed
    .filter((s) => created.has(s.role) && (s.kind === 'role' || created.has(s.member)))
    .map((s) => (s.kind === 'membership' ? withoutGrantor(s.sql) : s.sql));
  plan.create = { roles, statements };
  plan.refused = await inTransaction(server.connection, server.secrets, statements, 'ROLLBACK').then(
    () => undefined,
    (e: unknown) => (e as Error).message,
  );
  return plan;
}

/** Creates the roles, all or none. */
export async function createRoles(connection: DatabaseConnection, secrets: Secrets, statements: string[]): Promise<void> {
  await inTransaction(connection, secrets, statements, 'COMMIT').catch((e: unknown) => {
    throw databaseError(e, connection, 'postgres');
  });
}

/** Drops roles this restore created, after a failure dropped the database that used them. */
export async function dropRoles(connection: DatabaseConnection, secrets: Secrets, roles: string[]): Promise<void> {
  const quoted = roles.map((n) => `"${n.replace(/"/g, '""')}"`);
  await inTransaction(connection, secrets, [`DROP ROLE IF EXISTS ${quoted.join(', ')}`], 'COMMIT');
}

async function inTransaction(connection: DatabaseConnection, secrets: Secrets, statements: string[], end: 'COMMIT' | 'ROLLBACK'): Promise<void> {
  const client = await connectMaintenance(connection, secrets);
  try {
    await client.query('BEGIN');
    for (const sql of statements) await client.query(sql);
    await client.query(end);
  } finally {
    await client.end().catch(() => undefined);
  }
}
