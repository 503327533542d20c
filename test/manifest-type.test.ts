/**
 * Keeps the hand-written `Manifest` type (src/manifest.ts) and schemas/manifest.schema.json from
 * drifting apart, from both sides:
 *
 * - `full` must be a `DeepRequired<Manifest>`: the compiler rejects it when the type gains a
 *   property it lacks, or when it holds a property the type does not know.
 * - At run time, the property paths of `full` must equal the property paths of the schema
 *   (following $ref into definitions), enums must equal the type's literal unions, and the
 *   required keys of each object must match the type's non-optional ones.
 * - The two valid manifests carved out of `full` (profile.aiida, profile.explicit: a manifest
 *   holds exactly one) are typed `Manifest` and must pass validation.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { readManifestText } from '../src/validate/read-manifest.js';
import type {
  AiidaProfileSpec,
  Compression,
  DumpFormat,
  EncryptionSpec,
  ExplicitProfileSpec,
  HookSpec,
  Manifest,
  RepositoryStrategy,
  Retention,
  StepSpec,
} from '../src/manifest.js';
import { settingsOf } from '../src/plan/settings.js';
import { valueSchema } from '../src/validate/value-schema.js';
import type { SchemaNode } from '../src/validate/value-schema.js';

type DeepRequired<T> = T extends (infer U)[] ? DeepRequired<U>[] : T extends object ? { [K in keyof T]-?: DeepRequired<T[K]> } : T;
/** The keys of T that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type Layout = NonNullable<ExplicitProfileSpec['layout']>;
type ExplicitDatabase = ExplicitProfileSpec['database'];
type Repository = NonNullable<Manifest['repository']>;
type TarCompression = NonNullable<NonNullable<Repository['tar']>['compression']>;

/** Every property of the type, with both profile kinds and both command forms (string, list). */
const full: DeepRequired<Manifest> = {
  version: 1,
  name: 'type-sample',
  profile: {
    aiida: { config: '~/.aiida/config.json', profile: 'prod' },
    explicit: {
      config: ['/srv/dss/data/config', '/srv/dss/data/install.ini'],
      repository: '/srv/dss/data',
      layout: 'disk-objectstore', // incremental (below) needs a layout the database can describe
      database: { host: 'db.example.org', port: 5433, name: 'dss', user: 'dss' },
    },
  },
  destination: 'backup@nas:/srv/backup/type-sample',
  database: { format: 'custom', compression: 'zstd', jobs: 4, timeout: '6h' }, // encryption (below) refuses directory dumps
  repository: {
    strategy: 'incremental',
    exclude: ['sandbox', '*.tmp'],
    tar: { compression: 'gzip', level: 9 },
    rsync: { linkDest: true, args: ['--numeric-ids'] },
    incremental: { fullEvery: '30d', periodicity: '2d', margin: '5m' },
  },
  encryption: { age: { recipients: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN ops@example.org'] } },
  retention: { keepLast: 3, keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 2 },
  hooks: {
    before: [{ run: 'verdi daemon stop', always: false, timeout: '5m' }],
    after: [{ run: ['verdi', 'daemon', 'start'], always: true, timeout: '1m' }],
  },
  notify: {
    start: 'https://hc-ping.com/abc/start',
    finish: 'https://hc-ping.com/abc',
    fail: 'https://hc-ping.com/abc/fail',
    timeout: '10s',
    retries: 3,
  },
  steps: [
    { id: 'offsite', run: ['rclone', 'sync', '/srv/backup/type-sample', 'remote:type-sample'], needs: ['finalize'], always: false, timeout: '4h' },
    { id: 'report', run: 'mail -s "backup done" ops@example.org', needs: ['offsite'], always: true, timeout: '1m' },
  ],
};

/** The valid manifests `full` stands for: one per profile kind. */
const aiidaSample: Manifest = { ...full, profile: { aiida: full.profile.aiida } };
const explicitSample: Manifest = { ...full, profile: { explicit: full.profile.explicit } };

/** The type's literal unions, written so the compiler demands every member and nothing else. */
const TYPE_ENUMS: Record<string, string[] | number[]> = {
  version: [1 satisfies Manifest['version']],
  'database.format': Object.keys({ custom: 0, directory: 0, plain: 0 } satisfies Record<DumpFormat, 0>),
  'database.compression': Object.keys({ zstd: 0, gzip: 0, none: 0 } satisfies Record<Compression, 0>),
  'repository.strategy': Object.keys({ tar: 0, rsync: 0, incremental: 0 } satisfies Record<RepositoryStrategy, 0>),
  'repository.tar.compression': Object.keys({ zstd: 0, gzip: 0, none: 0 } satisfies Record<TarCompression, 0>),
  'profile.explicit.layout': Object.keys({ plain: 0, 'aiida-1': 0, 'disk-objectstore': 0 } satisfies Record<Layout, 0>),
};

/** The type's required keys per object path, checked by the compiler the same way. */
const TYPE_REQUIRED: Record<string, string[]> = {
  '': Object.keys({ version: 0, name: 0, profile: 0, destination: 0 } satisfies Record<RequiredKeys<Manifest>, 0>),
  'profile.aiida': Object.keys({ config: 0 } satisfies Record<RequiredKeys<AiidaProfileSpec>, 0>),
  'profile.explicit': Object.keys({ repository: 0, database: 0 } satisfies Record<RequiredKeys<ExplicitProfileSpec>, 0>),
  'profile.explicit.database': Object.keys({ name: 0 } satisfies Record<RequiredKeys<ExplicitDatabase>, 0>),
  'hooks.before[]': Object.keys({ run: 0 } satisfies Record<RequiredKeys<HookSpec>, 0>),
  'hooks.after[]': Object.keys({ run: 0 } satisfies Record<RequiredKeys<HookSpec>, 0>),
  'steps[]': Object.keys({ id: 0, run: 0 } satisfies Record<RequiredKeys<StepSpec>, 0>),
  encryption: Object.keys({ age: 0 } satisfies Record<RequiredKeys<EncryptionSpec>, 0>),
  'encryption.age': Object.keys({ recipients: 0 } satisfies Record<RequiredKeys<EncryptionSpec['age']>, 0>),
  // Every other object of the type is all-optional:
  profile: Object.keys({} satisfies Record<RequiredKeys<Manifest['profile']>, 0>),
  database: Object.keys({} satisfies Record<RequiredKeys<NonNullable<Manifest['database']>>, 0>),
  repository: Object.keys({} satisfies Record<RequiredKeys<Repository>, 0>),
  'repository.tar': Object.keys({} satisfies Record<RequiredKeys<NonNullable<Repository['tar']>>, 0>),
  'repository.rsync': Object.keys({} satisfies Record<RequiredKeys<NonNullable<Repository['rsync']>>, 0>),
  'repository.incremental': Object.keys({} satisfies Record<RequiredKeys<NonNullable<Repository['incremental']>>, 0>),
  retention: Object.keys({} satisfies Record<RequiredKeys<Retention>, 0>),
  hooks: Object.keys({} satisfies Record<RequiredKeys<NonNullable<Manifest['hooks']>>, 0>),
  notify: Object.keys({} satisfies Record<RequiredKeys<NonNullable<Manifest['notify']>>, 0>),
};

type Schema = {
  $ref?: string;
  allOf?: Schema[];
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  required?: string[];
  definitions?: Record<string, Schema>;
};

/** The schema as `validate` applies it, to values after `${VAR}` expansion (its editor-only `${…}` branches cut). */
const schema = valueSchema(JSON.parse(readFileSync(new URL('../../schemas/manifest.schema.json', import.meta.url), 'utf8')) as SchemaNode) as Schema;

/** Follows `$ref`, and `allOf: [{ $ref }]` (how a property keeps its own title beside a reference). */
function deref(node: Schema): Schema {
  let at = node;
  const seen = new Set<string>();
  while (at.$ref || at.allOf?.length === 1) {
    if (!at.$ref) {
      at = at.allOf![0]!;
      continue;
    }
    const ref = at.$ref;
    expect(ref, 'only local definitions are referenced').to.match(/^#\/definitions\//);
    expect(seen.has(ref), `$ref cycle at ${ref}`).to.equal(false);
    seen.add(ref);
    at = schema.definitions![ref.slice('#/definitions/'.length)]!;
    expect(at, `definition ${ref}`).to.not.equal(undefined);
  }
  return at;
}

const join = (prefix: string, key: string) => (prefix ? `${prefix}.${key}` : key);

/** Every object of the schema by path (`hooks.before[]`), and every property path under them. */
function walkSchema(node: Schema, at = '', out = { properties: new Set<string>(), objects: new Map<string, Schema>() }) {
  const s = deref(node);
  if (s.properties) {
    out.objects.set(at, s);
    for (const [key, child] of Object.entries(s.properties)) {
      out.properties.add(join(at, key));
      walkSchema(child, join(at, key), out);
    }
  }
  if (s.items) walkSchema(s.items, `${at}[]`, out);
  return out;
}

/** Every property path a value holds (arrays as `[]`, all elements merged). */
function walkValue(value: unknown, at = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) walkValue(item, `${at}[]`, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      out.add(join(at, key));
      walkValue(child, join(at, key), out);
    }
  }
  return out;
}

/** Enums of the schema by path. */
function schemaEnums(node: Schema, at = '', out = new Map<string, unknown[]>()): Map<string, unknown[]> {
  const s = deref(node);
  if (s.enum) out.set(at, s.enum);
  for (const [key, child] of Object.entries(s.properties ?? {})) schemaEnums(child, join(at, key), out);
  if (s.items) schemaEnums(s.items, `${at}[]`, out);
  return out;
}

describe('Manifest type and manifest schema agree', () => {
  const walked = walkSchema(schema);

  it('the schema walk reaches into $ref definitions', () => {
    for (const path of ['profile.aiida.config', 'profile.explicit.database.port', 'hooks.before[].run', 'hooks.after[].always', 'steps[].needs', 'database.timeout']) {
      expect(walked.properties, path).to.include(path);
    }
  });

  it('every schema property appears in the fully-populated sample', () => {
    const inSample = walkValue(full);
    const missing = [...walked.properties].filter((p) => !inSample.has(p));
    expect(missing, 'schema properties the Manifest type (and this sample) lack').to.deep.equal([]);
  });

  it('every property of the sample (that is, of the type) is in the schema', () => {
    const extra = [...walkValue(full)].filter((p) => !walked.properties.has(p));
    expect(extra, 'Manifest type properties the schema lacks').to.deep.equal([]);
  });

  it('the sample uses both command forms: a string and a list of arguments', () => {
    const runs = [...full.hooks.before, ...full.hooks.after, ...full.steps].map((h) => h.run);
    expect(runs.some((r) => typeof r === 'string')).to.equal(true);
    expect(runs.some((r) => Array.isArray(r))).to.equal(true);
  });

  it('enums of the schema equal the literal unions of the type', () => {
    const enums = schemaEnums(schema);
    expect([...enums.keys()].sort()).to.deep.equal(Object.keys(TYPE_ENUMS).sort());
    for (const [path, values] of Object.entries(TYPE_ENUMS)) {
      expect([...enums.get(path)!].map(String).sort(), path).to.deep.equal(values.map(String).sort());
    }
  });

  it('required keys of every schema object equal the non-optional keys of the type', () => {
    expect([...walked.objects.keys()].sort()).to.deep.equal(Object.keys(TYPE_REQUIRED).sort());
    for (const [path, required] of Object.entries(TYPE_REQUIRED)) {
      expect([...(walked.objects.get(path)!.required ?? [])].sort(), path || 'top level').to.deep.equal([...required].sort());
    }
  });

  for (const [kind, sample] of [
    ['aiida', aiidaSample],
    ['explicit', explicitSample],
  ] as const) {
    it(`the ${kind} sample passes validation (as YAML, through the loader) and compiles to settings`, () => {
      const source = readManifestText(`${kind}-sample.yaml`, stringify(sample), {});
      expect(source.errors.map((e) => `${e.pos?.line}:${e.pos?.col}: ${e.message}`)).to.deep.equal([]);
      expect(source.manifest).to.deep.equal(sample);
      const settings = settingsOf(source.manifest!);
      expect(settings.repository.incremental).to.deep.equal({ fullEveryMs: 30 * 86_400_000, periodicityMs: 2 * 86_400_000, marginMs: 5 * 60_000 });
    });
  }

  it('the full sample itself is rejected only for naming both profiles', () => {
    const source = readManifestText('full.yaml', stringify(full), {});
    expect(source.errors.map((e) => e.message)).to.deep.equal(['profile must have exactly one of: aiida, explicit']);
  });
});
