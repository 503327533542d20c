/**
 * Regression (CI, stop 8): a second Ctrl-C that reached `backplan run` just after the run had
 * finished found no handler left and killed the process by signal, so the shell saw no exit
 * code instead of 130 (143 for SIGTERM). The handlers now stay installed for the life of the process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const signalsModule = fileURLToPath(new URL('../../src/cli/signals.js', import.meta.url));

function exitOf(script: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

describe('regression: a signal after the command finished', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} once the work is done still exits ${code}, not by signal`, async () => {
      const script = `
        const { interruptible } = await import(${JSON.stringify(signalsModule)});
        await interruptible(async () => 'done');
        process.kill(process.pid, '${signal}');
        setTimeout(() => process.exit(3), 5000);`;
      expect(await exitOf(script)).to.deep.equal({ code, signal: null });
    });
  }

  it('the first signal while working aborts the work instead of exiting', async () => {
    const script = `
      const { interruptible } = await import(${JSON.stringify(signalsModule)});
      try {
        await interruptible((signal) => new Promise((_, reject) => {
          const keepAlive = setTimeout(() => process.exit(5), 5000);
          signal.addEventListener('abort', () => { clearTimeout(keepAlive); reject(new Error('aborted')); });
          process.kill(process.pid, 'SIGINT');
        }));
      } catch (e) { process.exit(e.code === 'INTERRUPTED' ? 42 : 4); }`;
    expect(await exitOf(script)).to.deep.equal({ code: 42, signal: null });
  });
});
