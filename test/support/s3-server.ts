/**
 * A loopback S3-compatible server for tests and benchmarks of rclone destinations: s3rver (npm,
 * pure JS, objects kept as files in a temp dir) on 127.0.0.1 and a free port, one bucket. It
 * checks the access key (S3RVER) but not the signature, so a test can hand rclone a canary
 * secret and look for it everywhere backplan writes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}
interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<Written>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<Written>;
}
interface Written {
  size: number;
  md5: string;
}

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

const requireCjs = createRequire(import.meta.url);

export async function startS3(): Promise<LoopbackS3> {
  const S3rver = requireCjs('s3rver') as S3rverClass;
  awaitStoreWrites();
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

/**
 * s3rver 3.7.1 (its last release) answers a PUT once the body has been read, before its file
 * write stream has written it: a HEAD right after (rclone checks the size of what it uploaded)
 * could find a short object under load ("sizes differ 1321 vs 0"). Its two writers are replaced
 * by ones that finish writing first. Idempotent.
 */
function awaitStoreWrites(): void {
  const store = (requireCjs('s3rver/lib/stores/filesystem') as { prototype: FilesystemStore }).prototype;
  store.putObject = async function (this: FilesystemStore, object) {
    const written = await writeObjectFile(this.getResourcePath(object.bucket, object.key, 'object'), object.content);
    await this.putMetadata(object.bucket, object.key, object.metadata, written.md5);
    return written;
  };
  store.putPart = async function (this: FilesystemStore, bucket, uploadId, partNumber, content) {
    const partPath = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
    const written = await writeObjectFile(partPath, content);
    await writeFile(`${partPath}.md5`, written.md5);
    return written;
  };
}

/** Writes content to path, resolving with its size and MD5 once the file holds all of it. */
async function writeObjectFile(path: string, content: Buffer | Readable): Promise<Written> {
  await mkdir(dirname(path), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const measure = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      md5.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  };
  await pipeline(Buffer.isBuffer(content) ? Readable.from([content]) : content, measure, createWriteStream(path));
  return { size, md5: md5.digest('hex') };
}
