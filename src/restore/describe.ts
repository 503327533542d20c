import { basename } from 'node:path';
import { renderPipeline } from '../execute/render.js';
import { libpqEnv } from '../steps/plan-input.js';
import type { DbCommand } from './database.js';
import { folderCopyStages, repositoryArchives } from './repository.js';
import { serverName } from './restore.js';
import { sourceName } from './source.js';
import type { RestorePlan } from './restore.js';

/** What a restore would create where, for --dry-run: the plan executeRestore runs, as text. */
export function describeRestore(plan: RestorePlan): string {
  const { snapshot, chain } = plan;
  const lines = [`restore ${snapshot.id} (${snapshot.kind}, ${snapshot.time.toISOString()}) into ${plan.targetDir}`];
  const row = (what: string, text: string) => lines.push(`  ${what.padEnd(9)}${text}`);
  const archives = plan.repository ? repositoryArchives(plan.repository).map((a) => basename(sourceName(a))) : [];
  row('check', `sha256 of every artefact of ${chain.map((s) => s.id).join(', ')}${archives.length ? `; entries of ${archives.join(', ')} that would land outside the target` : ''}`);
  if (plan.replaces.length > 0) row('remove', `${plan.replaces.join(', ')} (--force)`);
  const repo = plan.repository;
  if (repo?.include) {
    const m = repo.matched;
    row('include', `${repo.include.map((p) => JSON.stringify(p)).join(', ')}: ${m ? `${m.entries} entries match (${m.files} files, ${m.bytes} bytes)` : 'not counted here'}; configuration${plan.database ? '' : ' and database'} left alone`);
  }
  if (repo?.method === 'incremental') {
    for (const s of repo.snapshots) row('apply', `${repo.target} <- the repository of ${s.id} (${s.record.kind})`);
  } else if (repo) {
    const how = repo.method === 'tar' ? `extract ${sourceName(repo.source)}` : renderPipeline(folderCopyStages(repo.source, repo.target));
    row('create', `${repo.target} <- ${how}`);
  }
  const config = plan.config;
  if (config?.kind === 'aiida') {
    row('write', `${config.target} (AiiDA ${config.aiidaVersion}.x profile ${config.profile}: repository ${repo?.target ?? '-'}, database ${plan.database?.name ?? '-'}; mode 0600)`);
    if (config.merge) row('merge', `profile ${config.profile} into ${config.merge.file} (copied first to ${config.merge.backup})`);
  } else if (config) {
    row('copy', `${config.source} -> ${config.target}`);
  }
  const db = plan.database;
  if (db) {
    const env = libpqEnv(db.connection);
    const render = (c: DbCommand) => `${c.input ? `${c.input.location} (streamed) | ` : ''}${renderPipeline(c.stages, { env, password: plan.hasPassword, output: c.output })}`;
    const created = db.roles.create;
    if (created) {
      row('roles', `create ${created.roles.join(', ')} on ${serverName(db.connection)} from database.roles.sql, in one transaction, without passwords (--create-roles):`);
      for (const sql of created.statements) row('', `${sql.replace(/\n/g, '\\n')};`);
    }
    if (db.commands.drop) row('drop', `database ${db.name} on ${serverName(db.connection)} (--force): ${render(db.commands.drop)}`);
    const admin = db.admin ? ` (administrative role, from ${db.admin.source})` : '';
    row('create', `database ${db.name} on ${serverName(db.connection)}${admin}, owner ${db.owner}: ${render(db.commands.create)}`);
    for (const c of db.commands.load) row('load', render(c));
    if (db.commands.tempFile) row('remove', `${db.commands.tempFile} afterwards`);
  }
  for (const note of plan.notes) row('note', note);
  return lines.join('\n') + '\n';
}
