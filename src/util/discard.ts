import { Writable } from 'node:stream';

/** A Writable that drops what it is given: the output of a pipeline whose last tool writes nothing worth reading. */
export function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
