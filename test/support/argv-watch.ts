/** Every argv seen on this machine while a function runs, read from /proc as fast as it allows. */
import { readdir, readFile } from 'node:fs/promises';

export async function argvsWhile<T>(fn: () => Promise<T>): Promise<{ result: T; argvs: string[][] }> {
  const seen = new Map<string, string[]>();
  let running = true;
  const poll = (async () => {
    while (running) {
      for (const pid of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
        if (!raw || raw.length === 0) continue;
        const argv = raw.toString('utf8').replace(/\0$/, '').split('\0');
        seen.set(argv.join('\0'), argv);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    return { result: await fn(), argvs: [...seen.values()] };
  } finally {
    running = false;
    await poll;
  }
}
