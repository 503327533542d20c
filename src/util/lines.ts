/** Line-by-line reading of a tool's output as it streams, never holding more than one line. */
import { Writable } from 'node:stream';

/** A Writable handing each line (without its `\n`, bytes read as latin1) to `onLine`, the last one too. */
export function lineSink(onLine: (line: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (rest + chunk.toString('latin1')).split('\n');
      rest = lines.pop()!;
      try {
        lines.forEach(onLine);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    final(done) {
      if (rest) onLine(rest);
      done();
    },
  });
}
