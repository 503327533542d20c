/**
 * The manifest in an editor, through the real client: yaml-language-server's language service
 * (what VS Code's YAML extension and Neovim's yamlls run), given files on disk as an editor
 * opens them. It must find the schema from the one modeline, head every hover with the key's
 * own title, and accept `${VAR}` wherever `backplan validate` accepts it.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from 'yaml-language-server';
import { MODELINE, writeSchema } from '../src/commands/schema.js';
import { readManifestText } from '../src/validate/read-manifest.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
type Node = Record<string, unknown>;
const schema = JSON.parse(await readFile(path.join(ROOT, 'schemas/manifest.schema.json'), 'utf8')) as Node;

/** Every key of the manifest language, each once, with `${…}` in every checked value. */
const SAMPLE = `${MODELINE}
version: 1
name: backup-\${SITE:-eu}
profile:
  explicit:
    config: [/srv/dss/config]
    repository: /srv/dss/data
    layout: \${LAYOUT:-aiida-1}
    database:
      host: localhost
      port: \${PGPORT:-5432}
      name: dss
      user: dss
destination: /mnt/backup
database:
  format: \${FORMAT:-directory}
  compression: \${COMPRESSION:-zstd}
  jobs: \${JOBS:-2}
  timeout: \${DUMP_TIMEOUT:-6h}
repository:
  strategy: \${STRATEGY:-incremental}
  exclude: [sandbox]
  tar:
    compression: \${TAR_COMPRESSION:-zstd}
    level: \${ZSTD_LEVEL:-3}
  rsync:
    linkDest: \${LINK_DEST:-true}
    args: [--numeric-ids]
  incremental:
    fullEvery: \${FULL_EVERY:-30d}
    periodicity: \${PERIODICITY:-2d}
    margin: \${MARGIN:-5m}
retention:
  keepLast: \${KEEP_LAST:-3}
  keepHourly: \${KEEP_HOURLY:-0}
  keepDaily: \${KEEP_DAILY:-7}
  keepWeekly: \${KEEP_WEEKLY:-4}
  keepMonthly: \${KEEP_MONTHLY:-12}
  keepYearly: \${KEEP_YEARLY:-1}
hooks:
  before:
    - run: verdi daemon stop
      always: \${ALWAYS:-false}
      timeout: \${HOOK_TIMEOUT:-5m}
  after:
    - run: [verdi, daemon, start]
notify:
  start: https://hc-ping.com/\${HC_UUID}/start
  finish: https://hc-ping.com/\${HC_UUID}
  fail: https://hc-ping.com/\${HC_UUID}/fail
  timeout: \${PING_TIMEOUT:-10s}
  retries: \${PING_RETRIES:-3}
steps:
  - id: offsite-\${SITE:-eu}
    run: rclone sync /mnt/backup remote:backup
    needs: [finalize]
    always: \${ALWAYS:-false}
    timeout: \${STEP_TIMEOUT:-4h}
`;

/** The title an editor should show for a key path: its own, or that of the definition it names. */
function titleAt(keys: string[]): string | undefined {
  let node: Node | undefined = schema;
  for (const key of keys) {
    while (node && typeof node.$ref === 'string') node = (schema.definitions as Record<string, Node>)[node.$ref.replace('#/definitions/', '')];
    if (node?.type === 'array') node = node.items as Node;
    while (node && typeof node.$ref === 'string') node = (schema.definitions as Record<string, Node>)[node.$ref.replace('#/definitions/', '')];
    node = (node?.properties as Record<string, Node> | undefined)?.[key];
  }
  while (node && typeof node.$ref === 'string') node = (schema.definitions as Record<string, Node>)[node.$ref.replace('#/definitions/', '')];
  return node?.title as string | undefined;
}

/** Each key of a block-style YAML text: its line, column and the path of keys leading to it. */
function keysOf(text: string): { line: number; character: number; keys: string[] }[] {
  const out: { line: number; character: number; keys: string[] }[] = [];
  const stack: { indent: number; key: string }[] = [];
  text.split('\n').forEach((line, i) => {
    const m = /^(\s*)(- )?([A-Za-z]+):/.exec(line);
    if (!m) return;
    const indent = m[1]!.length + (m[2] ? 2 : 0);
    while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack.push({ indent, key: m[3]! });
    out.push({ line: i, character: indent, keys: stack.map((s) => s.key) });
  });
  return out;
}

describe('the manifest in yaml-language-server (the editors\' client)', function () {
  this.timeout(60_000);
  let dir: string;
  const requested: string[] = [];
  const service = getLanguageService({
    schemaRequestService: async (uri) => {
      requested.push(uri);
      return readFile(fileURLToPath(uri), 'utf8');
    },
    workspaceContext: { resolveRelativePath: (relative, resource) => new URL(relative, resource).toString() },
  });
  service.configure({ validate: true, hover: true, completion: true, hoverSchemaSource: false });
  const open = async (file: string) => TextDocument.create(pathToFileURL(file).toString(), 'yaml', 1, await readFile(file, 'utf8'));

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'backplan-editor-'));
    await writeSchema(dir);
    await writeFile(path.join(dir, 'sample.yaml'), SAMPLE);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('finds the schema written by `schema --write` from the modeline, and flags what the schema refuses', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, SAMPLE.replace('level: ${ZSTD_LEVEL:-3}', 'level: 30').replace('jobs: ${JOBS:-2}', 'jobs: many'));
    const diagnostics = await service.doValidation(await open(bad), false);
    expect(requested).to.include(pathToFileURL(path.join(dir, 'manifest.schema.json')).toString());
    expect(diagnostics.map((d) => d.range.start.line + 1).sort((a, b) => a - b)).to.deep.equal([18, 25]);
  });

  it('accepts ${VAR} in every checked value, as backplan validate does', async () => {
    const diagnostics = await service.doValidation(await open(path.join(dir, 'sample.yaml')), false);
    expect(diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`)).to.deep.equal([]);
    const validated = readManifestText('sample.yaml', SAMPLE, { HC_UUID: 'abc' });
    expect(validated.errors.map((e) => e.message)).to.deep.equal([]);
  });

  it('heads the hover of every key with that key\'s own title', async () => {
    const doc = await open(path.join(dir, 'sample.yaml'));
    const keys = keysOf(SAMPLE);
    expect(keys.length).to.be.at.least(50);
    const wrong: string[] = [];
    for (const { line, character, keys: at } of keys) {
      const hover = await service.doHover(doc, { line, character: character + 1 });
      const heading = /^#### (.+)$/m.exec(String((hover?.contents as { value?: string } | undefined)?.value ?? ''))?.[1];
      const expected = titleAt(at);
      if (!expected || heading?.replace(/\\/g, '') !== expected) wrong.push(`${at.join('.')}: shows ${heading ?? 'nothing'}, title ${expected}`);
    }
    expect(wrong).to.deep.equal([]);
  });

  it('reads the samples in manifests/ without a complaint', async () => {
    for (const name of ['aiida-1x-legacy.yaml', 'aiida-2x-prod.yaml', 'dss-datadir.yaml']) {
      const diagnostics = await service.doValidation(await open(path.join(ROOT, 'manifests', name)), false);
      expect(diagnostics.map((d) => `${name}:${d.range.start.line + 1}: ${d.message}`)).to.deep.equal([]);
    }
  });
});
