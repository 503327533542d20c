/**
 * `{ level: ${ZSTD_LEVEL:-3} }`: inside a flow collection `{` is YAML syntax, so the parser reads
 * a scalar `$` followed by a nested mapping `{ZSTD_LEVEL:-3}` and reports a cascade of errors,
 * often to the end of the file, that never name the cause. Found here on yaml's own token
 * stream, each such reference becomes one error at its `$` (see load.ts).
 */
import { CST, Lexer } from 'yaml';

export interface FlowReference {
  /** Offset of the `$`. */
  offset: number;
  /** The reference as written, e.g. `${ZSTD_LEVEL:-3}`. */
  text: string;
}

/** Lexer tokens that mark a token's kind and take no room in the source. */
const MARKERS = new Set(['\x02', '\x18', '\x1f']);

export function flowReferences(text: string): FlowReference[] {
  const found: FlowReference[] = [];
  let offset = 0;
  let depth = 0;
  let previous = '';
  for (const token of new Lexer().lex(text)) {
    if (MARKERS.has(token)) continue;
    const type = CST.tokenType(token);
    if (type === 'flow-map-start' && depth > 0 && CST.tokenType(previous) === null && previous.endsWith('$')) {
      found.push({ offset: offset - 1, text: /^\$\{[^}\n]*\}?/.exec(text.slice(offset - 1))![0] });
    }
    if (type === 'flow-map-start' || type === 'flow-seq-start') depth++;
    else if ((type === 'flow-map-end' || type === 'flow-seq-end') && depth > 0) depth--;
    previous = token;
    offset += token.length;
  }
  return found;
}
