/**
 * The plain tools a user would script by hand, through a shell (zx): they are the baseline, so
 * a shell is fine here. Output goes to files; stdout and stderr are kept quiet.
 */
import { $ } from 'zx';

export interface PlainTools {
  /** `tar -C repo -cf - . | zstd -3 -T0 > out` */
  tarZstd(repo: string, out: string): Promise<unknown>;
  /** `pg_dump -Fc -Z0 | zstd -3 -T0 > out`, of PGDATABASE in the env given. */
  dumpZstd(out: string): Promise<unknown>;
  /** `sync FILE…`: fsync of those files, as backplan fsyncs its artefacts. */
  sync(...files: string[]): Promise<unknown>;
  /** `zstd -dc archive | tar -x -C dir` (dir made first). */
  extract(archive: string, dir: string): Promise<unknown>;
  /** `createdb name`, then `zstd -dc dump | pg_restore -d name`. */
  restoreDump(dump: string, database: string): Promise<unknown>;
  /** `rsync -a from/ to/`, with --link-dest when given. */
  rsync(from: string, to: string, linkDest?: string): Promise<unknown>;
  /** `tar -C from -cf - . | tar -C to -xf -` (to made first): the fastest plain copy of many small files here. */
  tarCopy(from: string, to: string): Promise<unknown>;
}

export function plainTools(env: NodeJS.ProcessEnv): PlainTools {
  const sh = $({ quiet: true, env });
  return {
    tarZstd: (repo, out) => sh`tar -C ${repo} -cf - . | zstd -3 -T0 -q > ${out}`,
    dumpZstd: (out) => sh`pg_dump -Fc -Z0 | zstd -3 -T0 -q > ${out}`,
    sync: (...files) => sh`sync -- ${files}`,
    extract: (archive, dir) => sh`mkdir -p ${dir} && zstd -dc -q ${archive} | tar -x -C ${dir}`,
    restoreDump: (dump, database) => sh`createdb -- ${database} && zstd -dc -q ${dump} | pg_restore --exit-on-error -d ${database}`,
    rsync: (from, to, linkDest) => (linkDest ? sh`rsync -a --link-dest=${linkDest} ${from}/ ${to}/` : sh`rsync -a ${from}/ ${to}/`),
    tarCopy: (from, to) => sh`mkdir -p ${to} && tar -C ${from} -cf - . | tar -C ${to} -xf -`,
  };
}

/**
 * The regular files under a folder (and passing the extra find tests, e.g. `-links 1`) and
 * their bytes: find, much faster than a walk from node over 100k+ files.
 */
export async function filesUnder(path: string, tests: string[] = []): Promise<{ files: number; bytes: number }> {
  const out = await $`find ${path} -type f ${tests} -printf '%s\n' | awk '{ n++; s += $1 } END { print n + 0, s + 0 }'`.quiet();
  const [files, bytes] = out.stdout.trim().split(' ').map(Number);
  return { files: files!, bytes: bytes! };
}

/** "pg_dump (PostgreSQL) 15.20; zstd v1.5.4; tar (GNU tar) 1.34; rsync 3.2.7; node v20…" */
export async function toolVersions(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const first = async (argv: string[]) => {
    try {
      return (await $({ quiet: true, env })`${argv}`).stdout.split('\n')[0]!.replace(/\*/g, '').replace(/\s+/g, ' ').trim();
    } catch {
      return `${argv[0]} ?`;
    }
  };
  const versions = await Promise.all([['pg_dump', '--version'], ['zstd', '--version'], ['tar', '--version'], ['rsync', '--version']].map(first));
  return [...versions, `node ${process.version}`].join('; ');
}
