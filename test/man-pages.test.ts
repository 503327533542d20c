import { expect } from 'chai';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { helpCommands, helpOptions } from './support/help.js';
import { cli, repoRoot } from './support/profile.js';
import { runShell } from './support/shells.js';

const manDir = join(repoRoot, 'dist', 'man');

/** The page as man shows it, in plain text on lines wide enough not to split an option. */
async function rendered(page: string): Promise<{ code: number; text: string; warnings: string }> {
  const r = await runShell('sh', ['-c', 'MANWIDTH=200 exec man --warnings=all -l "$1"', 'sh', page]);
  return { code: r.code, text: r.stdout, warnings: r.stderr };
}

describe('man pages (one per command, from commander\'s help)', function () {
  this.timeout(60_000);
  let commands: string[];
  before(async () => {
    commands = (await helpCommands()).filter((c) => c !== 'help');
  });

  it('dist/man has backplan.1 and a page for every command of --help, and package.json\'s man lists each (npm links only those)', async () => {
    const pages = ['backplan.1', ...commands.map((c) => `backplan-${c}.1`)].sort();
    expect(commands).to.include.members(['run', 'restore', 'completion', 'man']);
    expect((await readdir(manDir)).sort()).to.deep.equal(pages);
    const { man } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { man: string[] };
    expect([...man].sort(), 'package.json "man"').to.deep.equal(pages.map((p) => `./dist/man/${p}`));
  });

  it('groff -man -Tutf8 -ww and man --warnings=all render every page without a word of warning', async () => {
    for (const page of await readdir(manDir)) {
      const groff = await runShell('groff', ['-man', '-Tutf8', '-ww', '-z', join(manDir, page)]);
      expect(groff, `groff on ${page}`).to.deep.equal({ code: 0, stdout: '', stderr: '' });
      const man = await rendered(join(manDir, page));
      expect({ code: man.code, warnings: man.warnings }, `man -l ${page}`).to.deep.equal({ code: 0, warnings: '' });
    }
  });

  it('a command\'s page names it and lists every option its --help lists, as they are typed', async () => {
    for (const command of commands) {
      const { text } = await rendered(join(manDir, `backplan-${command}.1`));
      expect(text, command).to.match(new RegExp(`^NAME\\n\\s+backplan-${command} - `, 'm'));
      expect(text, command).to.match(new RegExp(`^SYNOPSIS\\n\\s+backplan ${command}\\b`, 'm'));
      for (const option of await helpOptions(command)) expect(text, `${command}: ${option}`).to.match(new RegExp(`^\\s+(-\\w, )?${option}\\b`, 'm'));
    }
    const { text } = await rendered(join(manDir, 'backplan.1'));
    for (const command of commands) expect(text, `backplan(1) lists ${command}`).to.contain(`backplan-${command}(1)`);
    expect(text).to.match(/^EXIT STATUS\n\s+0\s+success/m);
    expect(text).to.match(/^\s+75\s+another run holds the destination lock/m);
  });

  it('backplan man COMMAND prints the page the package ships; an unknown command exits 2 naming the commands', async () => {
    expect((await cli(['man', 'restore'])).stdout).to.equal(await readFile(join(manDir, 'backplan-restore.1'), 'utf8'));
    expect((await cli(['man'])).stdout).to.equal(await readFile(join(manDir, 'backplan.1'), 'utf8'));
    const unknown = await cli(['man', 'nope']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('no command nope').and.to.contain('restore');
  });
});
