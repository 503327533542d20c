import type { Manifest } from '../manifest.js';
import type { Resolution } from '../resolve/types.js';
import type { PlanFacts } from './make-plan.js';

/**
 * A resolution made from the manifest alone, for planning where the profile cannot be read
 * (CI, `validate`): explicit values are used as written, AiiDA ones are named placeholders.
 */
export function offlineResolution(manifest: Manifest): Resolution {
  const { aiida, explicit } = manifest.profile;
  if (explicit) {
    const db = explicit.database;
    return {
      profile: {
        kind: 'explicit',
        configPaths: explicit.config ?? [],
        repository: { path: explicit.repository, layout: explicit.layout ?? 'plain' },
        database: { host: db.host ?? 'localhost', port: db.port ?? 5432, name: db.name, user: db.user ?? '<current user>' },
      },
      secrets: {},
    };
  }
  const name = aiida?.profile ?? '<default profile>';
  return {
    profile: {
      kind: 'aiida',
      configPaths: [],
      aiida: { configPath: aiida?.config ?? '<config.json>', profileName: name, aiidaVersion: 2 },
      repository: { path: `<repository of AiiDA profile ${name}>`, layout: 'disk-objectstore' },
      database: { host: '<host>', port: 5432, name: `<database of AiiDA profile ${name}>`, user: '<user>' },
    },
    secrets: {},
  };
}

export function offlineFacts(now = new Date()): PlanFacts {
  return {
    now,
    exportedSnapshots: true,
    snapshots: [],
    notes: ['offline plan: the profile, the database and the destination were not read; placeholders stand in for them'],
  };
}
