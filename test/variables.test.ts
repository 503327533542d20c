/**
 * `${VAR}` works in every value, as the README promises: an expanded number or boolean is
 * converted to the key's type, a value that cannot be is a positioned error naming the
 * reference as written, and a reference inside a `{ flow mapping }` is one error saying why.
 */
import { expect } from 'chai';
import { readManifestText } from '../src/validate/read-manifest.js';

const BASE = ['version: 1', 'name: vars', 'destination: /mnt/backup/vars'];
const EXPLICIT = ['profile:', '  explicit:', '    repository: /srv/data', '    database:', '      name: app', '      port: ${PGPORT:-5432}'];
const REPOSITORY = ['repository:', '  rsync: { linkDest: "${LINK_DEST:-true}" }', '  tar:', '    level: ${ZSTD_LEVEL:-3}', 'retention:', '  keepDaily: ${KEEP_DAILY}'];

const lines = (source: ReturnType<typeof readManifestText>) => source.errors.map((e) => `${e.pos?.line}:${e.pos?.col}: ${e.message}`);
const read = (env: NodeJS.ProcessEnv, extra: string[] = REPOSITORY) => readManifestText('vars.yaml', [...BASE, ...EXPLICIT, ...extra, ''].join('\n'), env);

describe('${VAR} expansion meets the schema', () => {
  it('converts expanded numbers and booleans to the key\'s type (defaults and set variables)', () => {
    const source = read({ KEEP_DAILY: '7', LINK_DEST: 'false' });
    expect(lines(source)).to.deep.equal([]);
    expect(source.manifest!.profile.explicit!.database.port).to.equal(5432);
    expect(source.manifest!.repository).to.deep.equal({ rsync: { linkDest: false }, tar: { level: 3 } });
    expect(source.manifest!.retention).to.deep.equal({ keepDaily: 7 });
  });

  it('leaves text keys as text, even when the text looks like a number', () => {
    const source = readManifestText('vars.yaml', [...BASE.slice(0, 2), 'destination: /mnt/${N}', ...EXPLICIT, ''].join('\n'), { N: '42' });
    expect(lines(source)).to.deep.equal([]);
    expect(source.manifest!.destination).to.equal('/mnt/42');
  });

  it('a value that is not a number is an error at the value, naming the reference', () => {
    const source = read({ KEEP_DAILY: '7', ZSTD_LEVEL: 'fast' });
    expect(lines(source)).to.deep.equal(['13:12: repository.tar.level must be an integer (got "fast", expanded from ${ZSTD_LEVEL:-3})']);
  });

  it('a converted value out of range is reported at the value with what it was expanded from', () => {
    const source = read({ KEEP_DAILY: '-1', PGPORT: '70000' });
    expect(lines(source)).to.deep.equal([
      '9:13: profile.explicit.database.port must be <= 65535 (got 70000, expanded from ${PGPORT:-5432})',
      '15:14: retention.keepDaily must be >= 0 (got -1, expanded from ${KEEP_DAILY})',
    ]);
  });

  it('an unset variable is reported once, as unset, not again as a wrong type', () => {
    const source = read({});
    expect(lines(source)).to.deep.equal(['15:14: environment variable KEEP_DAILY is not set']);
  });

  it('${VAR} inside a flow mapping: one error at the reference, with the fix as hint', () => {
    const source = read({}, ['repository:', '  tar: { compression: zstd, level: ${ZSTD_LEVEL:-3} }', 'retention: { keepLast: 3 }', 'notify:', '  retries: 3']);
    expect(lines(source)).to.deep.equal(['11:36: ${ZSTD_LEVEL:-3} inside a YAML flow collection ({ … } or [ … ]) is read as YAML braces, not as a variable']);
    expect(source.errors[0]!.details.hint).to.equal('quote the value ("${ZSTD_LEVEL:-3}"; an expanded number stays a number) or write the collection in block style');
    const quoted = read({}, ['repository:', '  tar: { compression: zstd, level: "${ZSTD_LEVEL:-3}" }']);
    expect(lines(quoted)).to.deep.equal([]);
    expect(quoted.manifest!.repository!.tar).to.deep.equal({ compression: 'zstd', level: 3 });
  });

  it('${VAR} inside a flow list is caught the same way; syntax errors before it are still reported', () => {
    const source = read({}, ['hooks: { before: [ { run: "a" ] }', 'repository:', '  exclude: [${CACHE}/tmp, logs]']);
    const found = lines(source);
    expect(found.at(-1)).to.equal('12:13: ${CACHE} inside a YAML flow collection ({ … } or [ … ]) is read as YAML braces, not as a variable');
    expect(found.slice(0, -1).every((l) => l.startsWith('10:'))).to.equal(true);
  });
});
