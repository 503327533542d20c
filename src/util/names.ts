/**
 * File names as the bytes they are. A Linux name is any bytes but `/` and NUL; decoding one as
 * UTF-8 replaces what is not UTF-8 with U+FFFD, and two names can then collide. Inside backplan
 * a name read from an archive or a listing is a "binary string": one char per byte (latin1),
 * which splits on `/` and compares exactly; it becomes bytes again for the filesystem, and
 * readable text only for messages.
 */

/** The binary string of a name's bytes. */
export function binaryName(bytes: Buffer): string {
  return bytes.toString('latin1');
}

/** The bytes of a binary string, for fs calls and for files that list names. */
export function nameBytes(name: string): Buffer {
  return Buffer.from(name, 'latin1');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A binary string as text to show on one line: decoded when it is UTF-8 (control characters
 * escaped as `\xNN`), else every byte outside printable ASCII escaped so.
 */
export function displayName(name: string): string {
  const bytes = nameBytes(name);
  try {
    return utf8.decode(bytes).replace(/[\x00-\x1f\x7f]/g, (c) => hex(c.charCodeAt(0)));
  } catch {
    return [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : hex(b))).join('');
  }
}

const hex = (byte: number) => `\\x${byte.toString(16).padStart(2, '0')}`;
