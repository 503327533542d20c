/**
 * age (https://age-encryption.org) as one more stage of a pipeline. Writing, `age --encrypt` to
 * the manifest's public keys follows the compressor and the artefact's name gains `.age`;
 * reading, `age --decrypt` with the identity comes before the decompressor. The name alone says
 * how to read an artefact back, so a chain may mix snapshots written in clear and encrypted.
 * Only the identity's path is ever an argument; its content is read by age alone.
 */
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { BackplanError, isBackplanError } from '../errors.js';
import type { SnapshotEncryption } from '../record/snapshot-record.js';
import { pipeline } from './subprocess.js';
import { readFileStream } from '../util/read-file.js';

export const AGE_SUFFIX = '.age';

/** The environment variable naming the identity file when --identity is not given. */
export const IDENTITY_ENV = 'BACKPLAN_AGE_IDENTITY_FILE';

/** `age --encrypt -r KEY…`: reads the compressed stream on stdin, writes the ciphertext. */
export function encryptStage(encryption: SnapshotEncryption): string[] {
  return ['age', '--encrypt', ...encryption.recipients.flatMap((r) => ['--recipient', r])];
}

/** The artefact name: `.age` appended when the snapshot is encrypted. */
export function sealedName(name: string, encryption: SnapshotEncryption | undefined): string {
  return encryption ? `${name}${AGE_SUFFIX}` : name;
}

export function isSealed(path: string): boolean {
  return path.endsWith(AGE_SUFFIX);
}

/** `age --decrypt -i IDENTITY`, reading `file` or, without one, stdin. */
export function decryptStage(identity: string, file?: string): string[] {
  return ['age', '--decrypt', '--identity', identity, ...(file === undefined ? [] : ['--', file])];
}

/**
 * The stages whose last one prints an artefact's plain bytes, read by name: decryption for
 * `.age`, then decompression for `.zst`/`.gz`. None for a file to be read as it is. The first
 * stage reads the file `path`, or stdin with `fromStdin` (the bytes streamed from elsewhere).
 */
export function unpackStages(path: string, identity: string | undefined, o: { fromStdin?: boolean } = {}): string[][] {
  const file = o.fromStdin ? undefined : path;
  if (!isSealed(path)) {
    const unpack = decompress(path);
    return unpack ? [[...unpack, ...(file === undefined ? [] : ['--', file])]] : [];
  }
  const unpack = decompress(path.slice(0, -AGE_SUFFIX.length));
  return [decryptStage(needIdentity(path, identity), file), ...(unpack ? [unpack] : [])];
}

/** Decompression runs as a tool (as compression did), never inside node. */
function decompress(name: string): string[] | undefined {
  if (name.endsWith('.zst')) return ['zstd', '-dcq'];
  if (name.endsWith('.gz')) return ['gzip', '-dc'];
  return undefined;
}

export function needIdentity(path: string, identity: string | undefined): string {
  if (identity !== undefined) return identity;
  throw new BackplanError('SNAPSHOT', `${path} is encrypted with age and no identity was given to decrypt it`, { hint: IDENTITY_HINT });
}

/**
 * The identity file a restore decrypts with: --identity, else BACKPLAN_AGE_IDENTITY_FILE, as an
 * absolute path; undefined when neither names one. Only its path is kept: age reads it.
 */
export async function identityFile(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const given = option ?? (env[IDENTITY_ENV] || undefined);
  if (given === undefined) return undefined;
  const path = resolve(given);
  const from = option !== undefined ? '--identity' : IDENTITY_ENV;
  await access(path, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
    throw new BackplanError('USAGE', `cannot read the age identity ${path} (from ${from}): ${e.code ?? e.message}`, { hint: 'name a readable age identity file (age-keygen -o FILE) or ssh private key' });
  });
  return path;
}

export const IDENTITY_HINT = `pass the age identity (private key) file that matches one of the snapshot's recipients: --identity FILE, or ${IDENTITY_ENV}=FILE in the environment`;

/**
 * One file through an age stage reading stdin (encryptStage, or decryptStage without a file)
 * into a new file, mode 0600, its folder made 0700. Paths are bytes: a configuration file's
 * name need not be UTF-8, and a name is never an argument.
 */
export async function ageFile(stage: string[], from: Buffer, to: Buffer, signal?: AbortSignal): Promise<void> {
  await mkdir(to.subarray(0, to.lastIndexOf('/')), { recursive: true, mode: 0o700 });
  await pipeline([stage], { signal, stdin: readFileStream(from), output: createWriteStream(to, { flags: 'wx', mode: 0o600 }) });
}

/** A small artefact's plain bytes (a roles file, a configuration file), decrypted in memory. */
export async function readPlain(path: string, identity: string | undefined, signal?: AbortSignal): Promise<Buffer> {
  const stages = unpackStages(path, identity);
  const chunks: Buffer[] = [];
  const collect = new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) });
  if (stages.length === 0) return readFile(path);
  try {
    await pipeline(stages, { output: collect, signal });
  } catch (e) {
    throw undecryptable(path, e);
  }
  return Buffer.concat(chunks);
}

/** age's refusal as ours: the identity does not match, is not one, or cannot be read. */
export function undecryptable(path: string, e: unknown): unknown {
  if (!isSealed(path) || !isBackplanError(e) || e.code !== 'COMMAND_FAILED' || !/^age\b/.test(e.message)) return e;
  const said = (e.details.stderrTail ?? e.message).trim().split('\n').find((l) => l.startsWith('age: error:'))?.slice('age: error: '.length);
  return new BackplanError('SNAPSHOT', `cannot decrypt ${path}${said ? `: ${said}` : ''}`, { hint: IDENTITY_HINT, cause: e });
}
