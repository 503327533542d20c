import { renderCommand } from './subprocess.js';

/** `PGHOST=db pg_dump … | zstd -3 > out` for plans and errors, password masked; display only. */
export function renderPipeline(stages: string[][], opts: { env?: Record<string, string>; password?: boolean; output?: string } = {}): string {
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${renderCommand([v])}`);
  if (opts.password) env.push('PGPASSWORD=***');
  const body = stages.map(renderCommand).join(' | ');
  return [...env, body].join(' ') + (opts.output ? ` > ${renderCommand([opts.output])}` : '');
}
