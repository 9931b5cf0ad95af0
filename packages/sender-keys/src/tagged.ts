/** The envelope of every persisted format: `tag ‖ version(1) ‖ body`. */
import { assertBytes, DecodeError } from '@e2ee-kit/core';

/** Checks the tag and returns the version byte and the body (no copy). */
export function readTagged(
  bytes: Uint8Array,
  tag: Uint8Array,
  what: string,
  versions: readonly number[],
): { version: number; body: Uint8Array } {
  assertBytes(bytes, what);
  if (bytes.length < tag.length + 1) throw new DecodeError(`${what} too short`);
  for (let i = 0; i < tag.length; i++) {
    if (bytes[i] !== tag[i]) throw new DecodeError(`not a ${what}`);
  }
  const version = bytes[tag.length] as number;
  if (!versions.includes(version)) throw new DecodeError(`unsupported ${what} version ${version}`);
  return { version, body: bytes.subarray(tag.length + 1) };
}

export function writeTagged(tag: Uint8Array, version: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(tag.length + 1 + body.length);
  out.set(tag, 0);
  out[tag.length] = version;
  out.set(body, tag.length + 1);
  return out;
}
