/**
 * Every persisted format of this package starts with two bytes: a type tag and a format version.
 * Readers accept every version ever written (frozen fixtures in test/fixtures prove it). The tags are
 * below 0x08, so they can never be mistaken for the first byte of a protobuf message.
 */
import { assertBytes, DecodeError } from '@e2ee-kit/core';

export const RecordTag = {
  Session: 0x01,
  PreKey: 0x02,
  SignedPreKey: 0x03,
  KyberPreKey: 0x04,
  PreKeyState: 0x05,
  PreKeyBundle: 0x06,
} as const;
export type RecordTag = (typeof RecordTag)[keyof typeof RecordTag];

export function wrapRecord(tag: RecordTag, version: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 2);
  out[0] = tag;
  out[1] = version;
  out.set(payload, 2);
  return out;
}

/** Checks tag and version; returns the version and a view of the payload. */
export function unwrapRecord(
  bytes: Uint8Array,
  tag: RecordTag,
  what: string,
  maxVersion: number,
): { version: number; payload: Uint8Array } {
  assertBytes(bytes, what);
  if (bytes.length < 2) throw new DecodeError(`${what} is truncated`);
  if (bytes[0] !== tag) throw new DecodeError(`not a serialized ${what}`);
  const version = bytes[1] as number;
  if (version < 1 || version > maxVersion) throw new DecodeError(`unsupported ${what} format version`);
  return { version, payload: bytes.subarray(2) };
}

/**
 * The brand of this package's record classes, for a copy of the package to recognise another copy's
 * records (an app can load two: its `import` and a dependency's `require`, or two versions in one
 * bundle), where `instanceof` and private fields see only their own copy. A registered symbol, so
 * every copy has the same key; its value is the class name. The contract (`@1`): a branded object's
 * `serialize()` returns the record's persisted format, which that class's `deserialize` reads.
 */
export const RECORD_KIND = Symbol.for('@e2ee-kit/ratchet/record@1');

/** Brands `cls`'s instances as records of `kind` (on the prototype: no per-record cost). */
export function brandRecord(cls: abstract new (...args: never[]) => unknown, kind: string): void {
  Object.defineProperty(cls.prototype, RECORD_KIND, { value: kind });
}
