/** Node records: uuids and file contents, deterministic from (seed, ordinal). */
import { createHash } from 'node:crypto';
import type { GeneratedProfile } from './types.js';

export interface NodeFile {
  name: string;
  data: Buffer;
  /** sha256 hex of data: the disk-objectstore key. */
  key: string;
}

export interface NodeRecord {
  /** 0-based ordinal over the profile's life; i % 3 picks input data, calculation, output data. */
  i: number;
  uuid: string;
  files: NodeFile[];
}

/** Shaped like AiiDA's uuid4s, but derived from md5 of (seed, ordinal) so that a seed replays a profile. */
function nodeUuid(seed: number, i: number): string {
  const h = createHash('md5').update(`backplan:${seed}:${i}`).digest('hex').split('');
  h[12] = '4';
  h[16] = ((parseInt(h[16]!, 16) & 3) | 8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Hex text from a sha256 chain: file bodies are slices of it, cheap and not trivially compressible. */
export function fillerPool(seed: number, minBytes: number): Buffer {
  const size = Math.max(1 << 16, 2 * minBytes);
  const pool = Buffer.alloc(size);
  let block = createHash('sha256').update(`filler:${seed}`).digest();
  for (let at = 0; at < size; at += 64) {
    pool.write(block.toString('hex'), at, 'latin1');
    block = createHash('sha256').update(block).digest();
  }
  return pool;
}

/** The header makes every file distinct; the body is a seed-determined slice of the pool. */
function fileData(pool: Buffer, uuid: string, name: string, index: number, bytes: number, extra = ''): Buffer {
  const head = Buffer.from(`backplan demo node ${uuid} ${name}${extra}\n`);
  const body = Math.max(0, bytes - head.length);
  const offset = (index * 7919) % (pool.length - body + 1);
  return Buffer.concat([head, pool.subarray(offset, offset + body)]);
}

export function makeFile(pool: Buffer, uuid: string, name: string, index: number, bytes: number, extra = ''): NodeFile {
  const data = fileData(pool, uuid, name, index, bytes, extra);
  return { name, data, key: createHash('sha256').update(data).digest('hex') };
}

export function makeNodes(p: GeneratedProfile, pool: Buffer, start: number, count: number): NodeRecord[] {
  const nodes: NodeRecord[] = [];
  for (let i = start; i < start + count; i++) {
    const uuid = nodeUuid(p.seed, i);
    const files = Array.from({ length: p.filesPerNode }, (_, j) => makeFile(pool, uuid, `file-${j}.txt`, i * p.filesPerNode + j, p.fileBytes));
    nodes.push({ i, uuid, files });
  }
  return nodes;
}
