/**
 * The role statements of `pg_dumpall --roles-only --no-role-passwords`, read back (#13): which
 * role each names, so a backup keeps only the roles its database needs, and a restore creates
 * only those missing on the target. A statement is split off at a `;` outside quotes and
 * comments; psql meta-commands (`\restrict`) and SET lines are dropped. Pure: tested on text.
 */

export type RoleStatement =
  /** CREATE ROLE r; ALTER ROLE r WITH …; ALTER ROLE r SET …; COMMENT ON ROLE r IS … */
  | { kind: 'role'; role: string; sql: string }
  /** GRANT role TO member [WITH …] [GRANTED BY grantor] */
  | { kind: 'membership'; role: string; member: string; sql: string };

interface Token {
  text: string;
  /** Identifier value (unquoted, as the catalog spells it) or an upper-cased keyword. */
  word?: string;
  start: number;
  end: number;
}

/** Splits SQL text into statements of tokens; comments and psql meta-command lines are skipped. */
function statements(text: string): { sql: string; tokens: Token[] }[] {
  const out: { sql: string; tokens: Token[] }[] = [];
  let tokens: Token[] = [];
  let i = 0;
  const finish = () => {
    if (tokens.length > 0) out.push({ sql: text.slice(tokens[0]!.start, tokens.at(-1)!.end), tokens });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i]!;
    const lineStart = i === 0 || text[i - 1] === '\n';
    if (/\s/.test(c)) i++;
    else if (c === '-' && text[i + 1] === '-') i = lineEnd(text, i);
    else if (c === '\\' && lineStart && tokens.length === 0) i = lineEnd(text, i);
    else if (c === ';') {
      finish();
      i++;
    } else if (c === "'" || c === '"') {
      const end = quoted(text, i, c);
      const body = text.slice(i + 1, end - 1).split(c + c).join(c);
      tokens.push({ text: text.slice(i, end), ...(c === '"' ? { word: body } : {}), start: i, end });
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      const end = i + /^[A-Za-z0-9_$]*/.exec(text.slice(i + 1))![0].length + 1;
      const raw = text.slice(i, end);
      // Bare words are keywords or lower-case identifiers (pg_dumpall quotes anything else).
      tokens.push({ text: raw, word: raw, start: i, end });
      i = end;
    } else {
      tokens.push({ text: c, start: i, end: i + 1 });
      i++;
    }
  }
  finish();
  return out;
}

function lineEnd(text: string, i: number): number {
  const n = text.indexOf('\n', i);
  return n === -1 ? text.length : n + 1;
}

/** The index just past a quoted string or identifier starting at `i` (a doubled quote escapes). */
function quoted(text: string, i: number, q: string): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] !== q) continue;
    if (text[j + 1] === q) j++;
    else return j + 1;
  }
  return text.length;
}

const is = (t: Token | undefined, keyword: string) => t !== undefined && t.text.toUpperCase() === keyword && t.text === t.word;

/** The role statements of a pg_dumpall --roles-only output; anything else is left out. */
export function parseRoleStatements(text: string): RoleStatement[] {
  const parsed: RoleStatement[] = [];
  for (const { sql, tokens: t } of statements(text)) {
    const role = (i: number) => t[i]?.word;
    if ((is(t[0], 'CREATE') || is(t[0], 'ALTER')) && is(t[1], 'ROLE') && role(2) !== undefined) {
      // ALTER ROLE r IN DATABASE d SET … belongs to another database's settings.
      if (is(t[0], 'ALTER') && !['WITH', 'SET', 'RESET'].some((k) => is(t[3], k))) continue;
      parsed.push({ kind: 'role', role: role(2)!, sql: withoutPassword(sql, t) });
    } else if (is(t[0], 'COMMENT') && is(t[1], 'ON') && is(t[2], 'ROLE') && role(3) !== undefined) {
      parsed.push({ kind: 'role', role: role(3)!, sql });
    } else if (is(t[0], 'GRANT') && is(t[2], 'TO') && role(1) !== undefined && role(3) !== undefined) {
      parsed.push({ kind: 'membership', role: role(1)!, member: role(3)!, sql });
    }
  }
  return parsed;
}

/** Belt and braces: a `PASSWORD '…'` (or NULL) clause is cut out wherever one turns up. */
function withoutPassword(sql: string, t: Token[]): string {
  const at = t.findIndex((x) => is(x, 'PASSWORD'));
  if (at === -1 || t[at + 1] === undefined) return sql;
  const from = is(t[at - 1], 'ENCRYPTED') ? at - 1 : at;
  const base = t[0]!.start;
  return (sql.slice(0, t[from]!.start - base).trimEnd() + ' ' + sql.slice(t[at + 1]!.end - base).trimStart()).trimEnd();
}

/** GRANT … GRANTED BY r: the grantor clause cut off (the restoring role grants instead, r may not exist there). */
export function withoutGrantor(sql: string): string {
  const t = statements(sql)[0]?.tokens ?? [];
  const at = t.findIndex((x, i) => is(x, 'GRANTED') && is(t[i + 1], 'BY'));
  return at === -1 ? sql : sql.slice(0, t[at]!.start - t[0]!.start).trimEnd();
}

/** The statements about `keep` (their CREATE/ALTER/COMMENT, and memberships among them), in dump order. */
export function rolesOnly(parsed: RoleStatement[], keep: Set<string>): RoleStatement[] {
  return parsed.filter((s) => keep.has(s.role) && (s.kind === 'role' || keep.has(s.member)));
}

/** The artefact's text: what pg_dumpall said about the kept roles, one statement a line (or more, for a multi-line comment). */
export function rolesFile(kept: RoleStatement[]): string {
  const header = [
    '--',
    "-- The roles this database's dump names, from pg_dumpall --roles-only --no-role-passwords:",
    '-- only those roles and the memberships among them, without passwords (backplan).',
    '--',
    '',
  ];
  return [...header, ...kept.map((s) => `${s.sql};`), ''].join('\n');
}
