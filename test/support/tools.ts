/**
 * Real tools with a test's hand on them: a folder to put first on PATH whose `tar` (or `rsync`)
 * does something first, then execs the real one. What the tool does to the data is unchanged;
 * only when it runs, or how fast, is the test's.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** PATH with `dir/<name>-bin` first, whose `tool` runs the sh `prelude`, then `exec`s the real tool with `args` before the caller's. */
export async function wrappedToolPath(dir: string, name: string, tool: string, opts: { prelude?: string; args?: string[] }): Promise<string> {
  const bin = join(dir, `${name}-bin`);
  await mkdir(bin, { recursive: true });
  const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  const args = (opts.args ?? []).map((a) => `'${a}'`).join(' ');
  await writeFile(join(bin, tool), `#!/bin/sh\n${opts.prelude ?? ''}\nexec ${real} ${args} "$@"\n`);
  await chmod(join(bin, tool), 0o755);
  return `${bin}:${process.env.PATH}`;
}

/** `tar` that sleeps at checkpoints, so that a copy outlasts the dump beside it. */
export function slowTarPath(dir: string): Promise<string> {
  return wrappedToolPath(dir, 'slow', 'tar', { args: ['--checkpoint=20', '--checkpoint-action=sleep=1'] });
}

export interface GatedTool {
  /** PATH for the run whose `tool` must wait. */
  path: string;
  /** Lets every waiting (and later) call of the tool run. */
  open(): Promise<void>;
}

/**
 * `tool` first on PATH waits until the test opens its gate (a file appears), then runs: the test
 * decides what happens before the tool gets to read anything.
 */
export async function gatedTool(dir: string, tool: string): Promise<GatedTool> {
  const gate = join(dir, `${tool}-gate-open`);
  const prelude = `while [ ! -e '${gate}' ]; do sleep 0.02; done`;
  const path = await wrappedToolPath(dir, 'gated', tool, { prelude });
  return { path, open: () => writeFile(gate, '') };
}

/** strace, which the fsync-order tests read syscalls with; they are skipped without it. */
export function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
