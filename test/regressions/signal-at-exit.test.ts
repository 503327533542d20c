/**
 * Regression (baseline of stop 16, "SIGINT twice" in run-faults): a Ctrl-C that reached
 * `backplan run` while node was tearing down after a natural end (event loop empty) killed it
 * by signal, so the shell saw no exit code. Node closes its signal handles in that teardown,
 * which restores the default action; the CLI now ends with process.exit, which skips it.
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { writeManifest } from '../support/manifests.js';
import { cliPath, useProfile } from '../support/profile.js';

/** Runs a backup and sends SIGINT without pause from the moment it releases its lock to its end. */
function spammedRun(manifest: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [cliPath, 'run', manifest], { stdio: ['ignore', 'ignore', 'pipe'] });
  let spam: NodeJS.Timeout | undefined;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (spam || !/done unlock/.test(stderr)) return;
    spam = setInterval(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    }, 0);
  });
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearInterval(spam);
      resolve({ code, signal });
    }),
  );
}

describe('regression: a signal while the process exits', function () {
  this.timeout(120_000);
  const p = useProfile('sigexit', { nodes: 5 });

  it('never ends by signal, whatever moment a Ctrl-C lands after the run (8 tries)', async () => {
    const manifest = await writeManifest(p, 'quick.yaml', 'repository: { strategy: tar }');
    for (let i = 0; i < 8; i++) {
      const { code, signal } = await spammedRun(manifest);
      expect(signal, `try ${i}`).to.equal(null);
      expect([0, 130], `try ${i}`).to.include(code);
    }
  });
});
