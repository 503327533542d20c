import { StringDecoder } from 'node:string_decoder';

const TAIL_LINES = 20;
const TAIL_BYTES = 4096;
const LINE_CHARS = 1024;
const DISK_FULL_TEXT = /No space left on device|Disk quota exceeded/i;
/** How a tool reports that the stage after it stopped reading (see Blame.ReaderGone). */
const READER_GONE_TEXT = /Broken pipe|Connection reset by peer/i;

/** The last lines of a stderr of any size, in bounded memory, watching for a full disk on the way. */
export class StderrTail {
  private readonly decoder = new StringDecoder('utf8');
  private readonly lines: string[] = [];
  private bytes = 0;
  private partial = '';
  // Seen in any line, even one long scrolled out of the tail.
  diskFull = false;
  readerGone = false;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    // \r ends a line too: progress output (rsync, zstd) redraws with it.
    const pieces = this.decoder.write(chunk).split(/[\r\n]/);
    const rest = pieces.pop()!;
    for (const piece of pieces) {
      this.line(this.partial + piece);
      this.partial = '';
    }
    this.partial = clip(this.partial + rest);
  }

  end(): void {
    this.line(this.partial + this.decoder.end());
    this.partial = '';
  }

  text(): string {
    return this.lines.join('\n');
  }

  private line(raw: string): void {
    if (raw === '') return;
    const line = clip(raw);
    if (DISK_FULL_TEXT.test(line)) this.diskFull = true;
    if (READER_GONE_TEXT.test(line)) this.readerGone = true;
    this.onLine(line);
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line);
    while (this.lines.length > TAIL_LINES || this.bytes > TAIL_BYTES) {
      this.bytes -= Buffer.byteLength(this.lines.shift()!);
    }
  }
}

/** Caps a line so that one endless line (a binary spewed to stderr) cannot exhaust memory. */
function clip(line: string): string {
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)}…` : line;
}
