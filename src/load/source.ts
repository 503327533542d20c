import { isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node, Pair } from 'yaml';
import { BackplanError } from '../errors.js';
import type { ErrorCode, ErrorDetails, SourcePos } from '../errors.js';

export type DataPath = (string | number)[];

/**
 * A manifest's text with its line index. Stages keep byte offsets; this turns them into
 * `line:column` only when an error is made, as yaml's LineCounter intends.
 */
export class SourceText {
  constructor(
    readonly file: string,
    readonly text: string,
    private readonly lines: LineCounter,
  ) {}

  pos(offset: number): SourcePos {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  error(code: ErrorCode, offset: number, message: string, details: ErrorDetails = {}): BackplanError {
    return new BackplanError(code, message, { ...details, pos: this.pos(offset) });
  }
}

/** The node at a data path (value), or undefined when the path does not exist in the YAML. */
export function nodeAt(doc: Document.Parsed, path: DataPath): Node | undefined {
  let node: unknown = doc.contents;
  for (const segment of path) {
    if (isMap(node)) node = findPair(node.items, segment)?.value;
    else if (isSeq(node) && typeof segment === 'number') node = node.items[segment];
    else return undefined;
  }
  return (node ?? undefined) as Node | undefined;
}

/** The key/value pair `key` inside the mapping at `parent`. */
export function pairAt(doc: Document.Parsed, parent: DataPath, key: string): Pair | undefined {
  const map = parent.length === 0 ? doc.contents : nodeAt(doc, parent);
  return isMap(map) ? findPair(map.items, key) : undefined;
}

function findPair(items: unknown[], key: string | number): Pair | undefined {
  return items.find((p): p is Pair => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key));
}

/**
 * Where to point for a data path: the value's node, else (for a key with no value) its key,
 * else the nearest existing ancestor.
 */
export function offsetOf(doc: Document.Parsed, path: DataPath): number {
  for (let n = path.length; n >= 0; n--) {
    const node = nodeAt(doc, path.slice(0, n));
    if (node?.range) return node.range[0];
    if (n > 0) {
      const pair = pairAt(doc, path.slice(0, n - 1), String(path[n - 1]));
      const key = pair?.key as Node | undefined;
      if (key?.range) return key.range[0];
    }
  }
  return 0;
}

/** `hooks.before[0].run` for people, from an ajv instance path or a data path. */
export function displayPath(path: DataPath): string {
  return path.reduce<string>((out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg), '');
}

/** A JSON pointer (ajv's instancePath) as a data path; numeric segments index lists. */
export function pointerToPath(pointer: string): DataPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
