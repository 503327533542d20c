/**
 * A loopback S3-compatible server for tests and benchmarks of rclone destinations: s3rver (npm,
 * pure JS, objects kept as files in a temp dir) on 127.0.0.1 and a free port, one bucket. It
 * checks the access key (S3RVER) but not the signature, so a test can hand rclone a canary
 * secret and look for it everywhere backplan writes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

export const S3_BUCKET = 'backplan';
/** The one access key s3rver knows. */
const ACCESS_KEY = 'S3RVER';

export interface LoopbackS3 {
  endpoint: string;
  /** Where s3rver keeps the objects, as files: `<directory>/<bucket>/<key>._S3rver_object`. */
  directory: string;
  /** RCLONE_CONFIG_<NAME>_* for an rclone remote named `name` reaching it with `secret`. */
  rcloneEnv(name: string, secret: string): NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startS3(): Promise<LoopbackS3> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const dir = await mkdtemp(join(tmpdir(), 'backplan-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, allowMismatchedSignatures: true, configureBuckets: [{ name: S3_BUCKET }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    directory: dir,
    rcloneEnv: (name, secret) => {
      const key = `RCLONE_CONFIG_${name.toUpperCase()}`;
      return {
        [`${key}_TYPE`]: 's3',
        [`${key}_PROVIDER`]: 'Other',
        [`${key}_ENV_AUTH`]: 'false',
        [`${key}_ACCESS_KEY_ID`]: ACCESS_KEY,
        [`${key}_SECRET_ACCESS_KEY`]: secret,
        [`${key}_ENDPOINT`]: endpoint,
        [`${key}_FORCE_PATH_STYLE`]: 'true',
        // rclone's S3 client fails on a custom CA bundle it cannot load over plain http.
        AWS_CA_BUNDLE: '',
      };
    },
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
