import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpCommands, helpOptions } from './support/help.js';
import { cli } from './support/profile.js';
import { bashCompletions, fishCompletions, runShell } from './support/shells.js';

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('shell completion (backplan completion bash|zsh|fish)', function () {
  this.timeout(60_000);
  let dir: string;
  const scripts: Record<string, string> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplan-completion-'));
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await cli(['completion', shell]);
      expect(r.code, r.stderr).to.equal(0);
      scripts[shell] = join(dir, `backplan.${shell}`);
      await writeFile(scripts[shell], r.stdout);
    }
    // A working folder to complete in: a manifest, a folder, and a file of another kind.
    await mkdir(join(dir, 'work', 'target'), { recursive: true });
    await writeFile(join(dir, 'work', 'prod.yaml'), 'version: 1\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('rejects a shell it has no script for, with the choices', async () => {
    const r = await cli(['completion', 'tcsh']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/bash, zsh, fish/);
  });

  describe('bash, sourced in bash --norc and asked as bash asks', () => {
    const complete = (...words: string[]) => bashCompletions(scripts.bash!, ['backplan', ...words], join(dir, 'work'));

    it('completes a command: backplan re → restore; every command of --help when empty', async () => {
      expect(await complete('re')).to.deep.equal(['restore']);
      expect(await complete('')).to.deep.equal([...(await helpCommands())].sort());
    });

    it('completes a command\'s options, exactly those of its --help: backplan restore --', async () => {
      const options = await helpOptions('restore');
      expect(options).to.include.members(['--to', '--database', '--force', '--dry-run', '--admin-user']);
      expect(await complete('restore', '--')).to.deep.equal([...options].sort());
      expect(await complete('restore', '--d')).to.deep.equal(['--database', '--dry-run', '--dsn']);
    });

    it('offers an option\'s choices, also after --format=', async () => {
      expect(await complete('plan', '--format', '')).to.deep.equal(['json', 'markdown', 'mermaid', 'text']);
      expect(await complete('plan', '--format', '=', 'm')).to.deep.equal(['markdown', 'mermaid']);
      expect(await complete('check', 'prod.yaml', '--max-age', '26h', '--format', '')).to.deep.equal(['json', 'prometheus', 'text']);
      expect(await complete('completion', '')).to.deep.equal(['bash', 'fish', 'zsh']);
      expect(await complete('help', 'ch')).to.deep.equal(['check']);
      expect(await complete('man', 'im')).to.deep.equal(['import-legacy']);
    });

    it('offers files for a manifest, folders for --to, nothing for free text', async () => {
      expect(await complete('validate', '')).to.deep.equal(['prod.yaml', 'target']);
      expect(await complete('restore', 'prod.yaml', 'latest', '--to', '')).to.deep.equal(['target']);
      expect(await complete('restore', 'prod.yaml', '')).to.deep.equal([], 'a snapshot id is not a file');
      expect(await complete('run', '--wait-lock', '')).to.deep.equal([]);
    });

    it('counts arguments past options and their values: the word after --admin-user ROLE is still the manifest', async () => {
      expect(await complete('verify', '--admin-user', 'postgres', 'p')).to.deep.equal(['prod.yaml']);
      expect(await complete('verify', '--admin-user', '=', 'postgres', 'p')).to.deep.equal(['prod.yaml']);
      expect(await complete('verify', '--all', 'p')).to.deep.equal(['prod.yaml']);
      expect(await complete('verify', 'prod.yaml', 'p')).to.deep.equal([], 'the second argument is a snapshot');
    });
  });

  describe('zsh', () => {
    it('parses (zsh -n), loads from $fpath by its #compdef line, and registers itself when sourced', async function () {
      if (!onPath('zsh')) this.skip();
      expect(await runShell('zsh', ['-n', scripts.zsh!])).to.deep.equal({ code: 0, stdout: '', stderr: '' });
      const functions = join(dir, 'zsh-functions');
      await mkdir(functions, { recursive: true });
      await writeFile(join(functions, '_backplan'), await readFile(scripts.zsh!, 'utf8'));
      const autoloaded = await runShell('zsh', ['-f', '-c', `fpath=(${functions} $fpath); autoload -Uz compinit && compinit -u -D && print -r -- $_comps[backplan]`]);
      expect(autoloaded).to.deep.equal({ code: 0, stdout: '_backplan\n', stderr: '' });
      const sourced = await runShell('zsh', ['-f', '-c', `autoload -Uz compinit && compinit -u -D && source ${scripts.zsh} && print -r -- $_comps[backplan]`]);
      expect(sourced).to.deep.equal({ code: 0, stdout: '_backplan\n', stderr: '' });
    });
  });

  describe('fish', () => {
    it('parses (fish -n) and completes as fish does (complete -C)', async function () {
      if (!onPath('fish')) this.skip();
      expect(await runShell('fish', ['--no-config', '-n', scripts.fish!])).to.deep.equal({ code: 0, stdout: '', stderr: '' });
      const complete = (line: string) => fishCompletions(scripts.fish!, line, join(dir, 'work'));
      expect(await complete('backplan re')).to.deep.equal(['restore']);
      expect((await complete('backplan restore --')).filter((o) => o.startsWith('--'))).to.deep.equal([...(await helpOptions('restore'))].sort());
      expect(await complete('backplan plan --format ')).to.deep.equal(['json', 'markdown', 'mermaid', 'text']);
      expect(await complete('backplan completion ')).to.deep.equal(['bash', 'fish', 'zsh']);
      expect(await complete('backplan validate p')).to.deep.equal(['prod.yaml']);
      expect(await complete('backplan schema ')).to.deep.equal([], 'schema takes no file');
    });
  });
});
