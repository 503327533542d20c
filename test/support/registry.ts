/**
 * A stand-in npm registry on 127.0.0.1, so that the real npm client can install a backplan
 * tarball with its dependencies while tests reach no registry. It serves the packages
 * package-lock.json installs for production (not `dev`), each packed from this checkout's
 * node_modules with the manifest it was installed with; anything else is a 404.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './profile.js';

export interface Registry {
  url: string;
  /** name@version of every package served. */
  packages: string[];
  close(): Promise<void>;
}

interface Version {
  manifest: Record<string, unknown>;
  file: string;
}

export async function startRegistry(dir: string): Promise<Registry> {
  const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const versions = new Map<string, Version[]>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev) continue;
    const manifest = JSON.parse(await readFile(join(repoRoot, path, 'package.json'), 'utf8')) as { name: string; version: string };
    const file = join(dir, `${manifest.name.replace('/', '__')}-${manifest.version}.tgz`);
    // The installed files, under package/ as in any npm tarball; nested dependencies are served on their own.
    await promisify(execFile)('tar', ['-czf', file, '--exclude=./node_modules', '--transform=s,^\\.,package,', '-C', join(repoRoot, path), '.']);
    versions.set(manifest.name, [...(versions.get(manifest.name) ?? []), { manifest, file }]);
  }

  const server = createServer((req, res) => {
    void respond(req.url ?? '/').then(
      (body) => {
        res.writeHead(body ? 200 : 404, { 'content-type': body instanceof Buffer ? 'application/octet-stream' : 'application/json' });
        res.end(body ?? '{"error":"not found"}');
      },
      (e: Error) => {
        res.writeHead(500);
        res.end(e.message);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  async function respond(path: string): Promise<string | Buffer | undefined> {
    const tarball = /^\/-\/([^/]+\.tgz)$/.exec(path);
    if (tarball) return readFile(join(dir, tarball[1]!));
    const name = decodeURIComponent(path.slice(1));
    const served = versions.get(name);
    if (!served) return undefined;
    const entries = await Promise.all(
      served.map(async ({ manifest, file }) => {
        const bytes = await readFile(file);
        const dist = {
          tarball: `${url}-/${file.slice(dir.length + 1)}`,
          integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
          shasum: createHash('sha1').update(bytes).digest('hex'),
        };
        return [manifest.version as string, { ...manifest, dist }] as const;
      }),
    );
    const latest = entries.map(([v]) => v).sort(compareVersions).at(-1)!;
    return JSON.stringify({ name, 'dist-tags': { latest }, versions: Object.fromEntries(entries) });
  }

  return {
    url,
    packages: [...versions.entries()].flatMap(([name, vs]) => vs.map((v) => `${name}@${v.manifest.version as string}`)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return x![i]! - y![i]!;
  return 0;
}
