import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { legacyManifest, parseBackupInfo } from '../src/commands/import-legacy.js';
import { isBackplanError } from '../src/errors.js';
import { readManifestText } from '../src/validate/read-manifest.js';
import { settingsOf } from '../src/plan/settings.js';
import { cli } from './support/profile.js';

const AIIDA1 = fileURLToPath(new URL('../../test/fixtures/profiles/aiida1', import.meta.url));

/** As AiiDA 1.x's backup_setup.py wrote it (docs example values). */
const BACKUP_INFO = {
  backup_dir: '/home/aiida/.aiida/backup/backup_dest',
  backup_length_threshold: 1,
  days_to_backup: null,
  end_date_of_backup: null,
  oldest_object_backedup: '2015-07-20 11:13:08.145804+02:00',
  periodicity: 2,
};

describe('import-legacy', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-legacy-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const manifestOf = (text: string) => {
    const source = readManifestText('imported.yaml', text, { AIIDA_PATH: AIIDA1 });
    expect(source.errors.map((e) => e.message)).to.deep.equal([]);
    return source.manifest!;
  };

  it('prints a valid manifest: periodicity windows, backup_dir as destination, the rest explained', () => {
    const text = legacyManifest(parseBackupInfo('backup_info.json', JSON.stringify(BACKUP_INFO)), 'backup_info.json', { profile: 'Project One' });
    const manifest = manifestOf(text);
    expect(manifest.name).to.equal('aiida-project-one');
    expect(manifest.destination).to.equal(BACKUP_INFO.backup_dir);
    expect(settingsOf(manifest).repository).to.deep.include({ strategy: 'incremental' });
    expect(settingsOf(manifest).repository.incremental.periodicityMs).to.equal(2 * 86_400_000);
    expect(text).to.include('oldest_object_backedup: 2015-07-20 11:13:08.145804+02:00');
    expect(text).to.match(/backup_length_threshold: 1 h/);
  });

  it('turns fractional days into hours and notes the end-date settings', () => {
    const info = { ...BACKUP_INFO, periodicity: 0.5, days_to_backup: 5, end_date_of_backup: '2016-01-01 00:00:00+00:00' };
    const text = legacyManifest(parseBackupInfo('b.json', JSON.stringify(info)), 'b.json');
    expect(settingsOf(manifestOf(text)).repository.incremental.periodicityMs).to.equal(12 * 3_600_000);
    expect(text).to.match(/days_to_backup: 5/).and.match(/end_date_of_backup: 2016-01-01/).and.match(/refused to run with both/);
  });

  it('refuses a file that is not a backup_info.json', () => {
    for (const bad of ['[]', '{"periodicity": 0, "backup_dir": "/x"}', '{"periodicity": 2}', 'not json', '{"periodicity": 2, "backup_dir": "/x", "days_to_backup": "5"}']) {
      let error: unknown;
      try {
        parseBackupInfo('bad.json', bad);
      } catch (e) {
        error = e;
      }
      expect(isBackplanError(error) && error.code, bad).to.equal('USAGE');
    }
  });

  it('runs from the CLI: exit 0 with the manifest on stdout, exit 2 for a bad file', async () => {
    const good = join(dir, 'backup_info.json');
    await writeFile(good, JSON.stringify(BACKUP_INFO));
    const ok = await cli(['import-legacy', good, '--name', 'legacy-job']);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(manifestOf(ok.stdout).name).to.equal('legacy-job');
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"periodicity": -1}');
    const refused = await cli(['import-legacy', bad]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/periodicity must be a positive number/).and.not.match(/^\s+at /m);
  });
});
