/**
 * The scannable form (QR content): libsignal's `CombinedFingerprints` protobuf
 * (`signal.proto.fingerprint`, proto2):
 *
 *   CombinedFingerprints { 1: uint32 version; 2: LogicalFingerprint local; 3: LogicalFingerprint remote }
 *   LogicalFingerprint   { 1: bytes content }   // 32 bytes: the first 32 bytes of that party's hash
 *
 * Decoding follows prost (what libsignal uses): unknown fields are skipped, a repeated message field is
 * merged, a repeated scalar keeps the last value, a `uint32` varint is truncated to its low 32 bits,
 * unknown groups are skipped, nesting deeper than 100 is refused.
 */
import { assertBytes, constantTimeEqual, copyBytes, DecodeError } from '@e2ee-kit/core';

/** Bytes of each party's hash carried in the scannable form. */
export const SCANNABLE_FINGERPRINT_LENGTH = 32;

/**
 * Outcome of comparing a scanned payload (or typed digits) with ours. Expected outcomes are values,
 * not exceptions: only misuse (an argument that is not bytes) throws.
 */
export type CompareResult =
  /** Both identity keys are the ones the other side sees: the conversation is verified. */
  | { readonly status: 'match' }
  /** Well-formed, same version, but the keys (or identifiers) differ: do not mark as verified. */
  | { readonly status: 'mismatch' }
  /** The other app uses another fingerprint version; neither side can verify until both agree. */
  | { readonly status: 'version-mismatch'; readonly ours: number; readonly theirs: number }
  /** Not a safety number payload at all (or typed text that is not 60 digits). */
  | { readonly status: 'malformed'; readonly error: DecodeError };

/** A comparison of bytes or text that is not a payload (or not a safety number). */
export const malformed = (error: DecodeError): CompareResult => ({ status: 'malformed', error });
export const MATCH: CompareResult = Object.freeze({ status: 'match' });
export const MISMATCH: CompareResult = Object.freeze({ status: 'mismatch' });

interface Decoded {
  version: number | undefined;
  local: Uint8Array | undefined;
  remote: Uint8Array | undefined;
}

// A reader with prost's exact acceptance rules: core's ProtoReader refuses a uint32 varint wider than 32
// bits where prost truncates it, and the version field must decide as libsignal's does.
// Every length is checked against the input before use: nothing is allocated beyond the input's size.

/** prost's `RECURSION_LIMIT`: nested messages and groups deeper than this are refused. */
const RECURSION_LIMIT = 100;

interface Cursor {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
}

function varint(c: Cursor): bigint {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw new DecodeError('protobuf varint truncated');
    const b = c.buf[c.pos++] as number;
    if (i === 9 && b > 1) throw new DecodeError('protobuf varint overflows 64 bits');
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return value;
  }
  throw new DecodeError('protobuf varint too long'); // unreachable: the 10th byte is < 2
}

/** Field key → [field number, wire type]; wire types 6 and 7 and field 0 are errors, as in prost. */
function key(c: Cursor): [number, number] {
  const k = varint(c);
  if (k > 0xffff_ffffn) throw new DecodeError('protobuf key out of range');
  const wireType = Number(k & 7n);
  if (wireType > 5) throw new DecodeError('invalid protobuf wire type');
  const field = Number(k >> 3n);
  if (field < 1) throw new DecodeError('invalid protobuf field number');
  return [field, wireType];
}

function length(c: Cursor): number {
  const len = varint(c);
  if (len > BigInt(c.end - c.pos)) throw new DecodeError('protobuf length exceeds input');
  return Number(len);
}

function advance(c: Cursor, n: number): void {
  if (n > c.end - c.pos) throw new DecodeError('protobuf input truncated');
  c.pos += n;
}

/** Skips an unknown field (prost `skip_field`): groups are skipped up to their matching end tag. */
function skip(c: Cursor, field: number, wireType: number, depth: number): void {
  if (depth === 0) throw new DecodeError('protobuf nesting too deep');
  switch (wireType) {
    case 0:
      varint(c);
      return;
    case 1:
      advance(c, 8);
      return;
    case 2:
      advance(c, length(c));
      return;
    case 3:
      for (;;) {
        const [f, w] = key(c);
        if (w === 4) {
          if (f !== field) throw new DecodeError('protobuf group ends with another field number');
          return;
        }
        skip(c, f, w, depth - 1);
      }
    case 5:
      advance(c, 4);
      return;
    default:
      throw new DecodeError('protobuf group end without a start');
  }
}

function expectWireType(actual: number, expected: number): void {
  if (actual !== expected) throw new DecodeError('protobuf field has the wrong wire type');
}

/** A LogicalFingerprint merged into what an earlier occurrence gave (prost merges message fields). */
function logical(c: Cursor, previous: Uint8Array | undefined, depth: number): Uint8Array | undefined {
  if (depth === 0) throw new DecodeError('protobuf nesting too deep');
  const len = length(c);
  const inner: Cursor = { buf: c.buf, pos: c.pos, end: c.pos + len };
  c.pos += len;
  let content = previous;
  while (inner.pos < inner.end) {
    const [field, wireType] = key(inner);
    if (field === 1) {
      expectWireType(wireType, 2);
      const n = length(inner);
      content = copyBytes(inner.buf, inner.pos, inner.pos + n);
      inner.pos += n;
    } else {
      skip(inner, field, wireType, depth - 1);
    }
  }
  return content;
}

function decodeCombined(bytes: Uint8Array): Decoded {
  const c: Cursor = { buf: bytes, pos: 0, end: bytes.length };
  const out: Decoded = { version: undefined, local: undefined, remote: undefined };
  // An empty LogicalFingerprint is "present" for prost but has no content, which is what callers
  // check; tracking the content alone is therefore enough.
  while (c.pos < c.end) {
    const [field, wireType] = key(c);
    if (field === 1) {
      expectWireType(wireType, 0);
      out.version = Number(varint(c) & 0xffff_ffffn); // prost: `value as u32`
    } else if (field === 2) {
      expectWireType(wireType, 2);
      out.local = logical(c, out.local, RECURSION_LIMIT);
    } else if (field === 3) {
      expectWireType(wireType, 2);
      out.remote = logical(c, out.remote, RECURSION_LIMIT);
    } else {
      skip(c, field, wireType, RECURSION_LIMIT);
    }
  }
  return out;
}

function decodeOrMalformed(bytes: Uint8Array): Decoded | DecodeError {
  try {
    return decodeCombined(bytes);
  } catch (err) {
    if (err instanceof DecodeError) {
      return new DecodeError('failed to decode the scanned fingerprint protobuf', { cause: err });
    }
    throw err;
  }
}

/** A fingerprint version is a protobuf uint32 (libsignal's `u32`): `RangeError` otherwise. */
export function assertVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > 0xffff_ffff) {
    throw new RangeError('fingerprint version must be an unsigned 32-bit integer');
  }
}

/** Node's `util.inspect` hook (a registered symbol: no `node:` import). */
export const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** A payload without one of its parts: the same refusal from `deserialize` and `compare`. */
const missing = (part: string): DecodeError =>
  new DecodeError(`scannable fingerprint is missing its ${part}`);

/**
 * `CombinedFingerprints { 1: version, 2: { 1: local }, 3: { 1: remote } }` with minimal varints, as
 * protobuf writes it. Written here rather than with core's `ProtoWriter` so the digits path does not
 * bundle the whole writer; the libsignal vectors check the bytes.
 */
function encodeCombined(version: number, local: Uint8Array, remote: Uint8Array): Uint8Array {
  const varint = (out: number[], n: number) => {
    for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
    out.push(n);
  };
  const lengthDelimited = (out: number[], tag: number, bytes: ArrayLike<number>) => {
    out.push(tag);
    varint(out, bytes.length);
    for (let i = 0; i < bytes.length; i++) out.push(bytes[i] as number);
  };
  const out = [0x08]; // field 1, varint
  varint(out, version);
  for (const [tag, content] of [
    [0x12, local], // field 2 (and 3), length-delimited: LogicalFingerprint { 1: content }
    [0x1a, remote],
  ] as const) {
    const logical: number[] = [];
    lengthDelimited(logical, 0x0a, content);
    lengthDelimited(out, tag, logical);
  }
  return Uint8Array.from(out);
}

/** The QR payload: a version and the first 32 bytes of each party's hash, from one side's view. */
export class ScannableFingerprint {
  /** Fingerprint version written into the payload (1: phone-number identifiers, 2: ACI service ids). */
  readonly version: number;
  readonly #local: Uint8Array;
  readonly #remote: Uint8Array;

  private constructor(version: number, local: Uint8Array, remote: Uint8Array) {
    this.version = version;
    this.#local = local;
    this.#remote = remote;
  }

  /** Builds a payload from a version and both 32-byte hash prefixes (local first). */
  static of(
    version: number,
    localFingerprint: Uint8Array,
    remoteFingerprint: Uint8Array,
  ): ScannableFingerprint {
    assertVersion(version);
    assertBytes(localFingerprint, 'localFingerprint', SCANNABLE_FINGERPRINT_LENGTH);
    assertBytes(remoteFingerprint, 'remoteFingerprint', SCANNABLE_FINGERPRINT_LENGTH);
    return new ScannableFingerprint(version, copyBytes(localFingerprint), copyBytes(remoteFingerprint));
  }

  /**
   * Decodes a payload as libsignal's `ScannableFingerprint::deserialize` does: version and both
   * contents must be present (any other problem is a `DecodeError` too).
   */
  static deserialize(bytes: Uint8Array): ScannableFingerprint {
    assertBytes(bytes, 'bytes');
    const d = decodeCombined(bytes);
    if (d.version === undefined) throw missing('version');
    if (d.local === undefined) throw missing('local fingerprint');
    if (d.remote === undefined) throw missing('remote fingerprint');
    return new ScannableFingerprint(d.version, d.local, d.remote);
  }

  /** This side's hash prefix (a copy). */
  get localFingerprint(): Uint8Array {
    return this.#local.slice();
  }

  /** The other side's hash prefix as this side computed it (a copy). */
  get remoteFingerprint(): Uint8Array {
    return this.#remote.slice();
  }

  /** The protobuf bytes to put in the QR code (74 bytes for a computed fingerprint). */
  serialize(): Uint8Array {
    return encodeCombined(this.version, this.#local, this.#remote);
  }

  /**
   * Compares a payload scanned from the other phone with ours, as libsignal's
   * `ScannableFingerprint::compare`: decode (else `malformed`), versions must be equal (else
   * `version-mismatch`; an absent version counts as 0), both contents present (else `malformed`), then
   * their local must equal our remote and their remote our local, both checked in constant time.
   * A payload compared with itself is a `mismatch`.
   */
  compare(theirs: Uint8Array | ScannableFingerprint): CompareResult {
    const bytes =
      theirs instanceof Uint8Array
        ? theirs
        : theirs !== null && typeof theirs === 'object' && typeof theirs.serialize === 'function'
          ? theirs.serialize() // also a ScannableFingerprint from another copy of the package
          : theirs;
    assertBytes(bytes, 'theirs');
    const d = decodeOrMalformed(bytes);
    if (d instanceof DecodeError) return malformed(d);
    const theirVersion = d.version ?? 0;
    if (theirVersion !== this.version) {
      return { status: 'version-mismatch', ours: this.version, theirs: theirVersion };
    }
    if (d.local === undefined) return malformed(missing('local fingerprint'));
    if (d.remote === undefined) return malformed(missing('remote fingerprint'));
    // Both comparisons always run; neither short-circuits the other.
    const same1 = Number(constantTimeEqual(d.local, this.#remote));
    const same2 = Number(constantTimeEqual(d.remote, this.#local));
    return (same1 & same2) === 1 ? MATCH : MISMATCH;
  }

  toString(): string {
    return `[ScannableFingerprint v${this.version}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
