/**
 * The scannable form (QR content): libsignal's `CombinedFingerprints` protobuf
 * (`signal.proto.fingerprint`, proto2):
 *
 *   CombinedFingerprints { 1: uint32 version; 2: LogicalFingerprint local; 3: LogicalFingerprint remote }
 *   LogicalFingerprint   { 1: bytes content }   // 32 bytes: the first 32 bytes of that party's hash
 *
 * Decoding follows prost (what libsignal uses): unknown fields are skipped, a repeated message field is
 * merged, a repeated scalar keeps the last value, a `uint32` varint is truncated to its low 32 bits.
 */
import {
  assertBytes,
  constantTimeEqual,
  DecodeError,
  E2eeError,
  ProtoReader,
  ProtoWriter,
  WireType,
} from '@e2ee-kit/core';

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

const MATCH: CompareResult = Object.freeze({ status: 'match' });
const MISMATCH: CompareResult = Object.freeze({ status: 'mismatch' });

interface Decoded {
  version: number | undefined;
  local: Uint8Array | undefined;
  remote: Uint8Array | undefined;
}

/** Content (field 1) of a LogicalFingerprint message, merged into `previous` as prost merges. */
function decodeLogical(bytes: Uint8Array, previous: Uint8Array | undefined): Uint8Array | undefined {
  const r = new ProtoReader(bytes);
  let content = previous;
  for (let h = r.next(); h !== undefined; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      content = r.bytes();
    } else {
      r.skip(h.wireType);
    }
  }
  return content;
}

function decodeCombined(bytes: Uint8Array): Decoded {
  const r = new ProtoReader(bytes);
  const out: Decoded = { version: undefined, local: undefined, remote: undefined };
  // A present-but-empty LogicalFingerprint still counts as "present" for prost, but its content is
  // absent, which is what callers check; tracking content alone is therefore enough.
  for (let h = r.next(); h !== undefined; h = r.next()) {
    switch (h.field) {
      case 1:
        r.expect(h, WireType.Varint);
        out.version = Number(r.uint64() & 0xffff_ffffn);
        break;
      case 2:
        r.expect(h, WireType.LengthDelimited);
        out.local = decodeLogical(r.bytes(), out.local);
        break;
      case 3:
        r.expect(h, WireType.LengthDelimited);
        out.remote = decodeLogical(r.bytes(), out.remote);
        break;
      default:
        r.skip(h.wireType);
    }
  }
  return out;
}

function decodeOrMalformed(bytes: Uint8Array): Decoded | DecodeError {
  try {
    return decodeCombined(bytes);
  } catch (err) {
    if (E2eeError.is(err)) {
      return new DecodeError('failed to decode the scanned fingerprint protobuf', { cause: err });
    }
    throw err;
  }
}

function assertVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > 0xffff_ffff) {
    throw new RangeError('fingerprint version must be an unsigned 32-bit integer');
  }
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

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
    return new ScannableFingerprint(version, localFingerprint.slice(), remoteFingerprint.slice());
  }

  /**
   * Decodes a payload as libsignal's `ScannableFingerprint::deserialize` does: version and both
   * contents must be present (any other problem is a `DecodeError` too).
   */
  static deserialize(bytes: Uint8Array): ScannableFingerprint {
    assertBytes(bytes, 'bytes');
    const d = decodeCombined(bytes);
    if (d.version === undefined) throw new DecodeError('scannable fingerprint is missing its version');
    if (d.local === undefined)
      throw new DecodeError('scannable fingerprint is missing the local fingerprint');
    if (d.remote === undefined)
      throw new DecodeError('scannable fingerprint is missing the remote fingerprint');
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
    return new ProtoWriter()
      .uint32(1, this.version)
      .bytes(2, new ProtoWriter().bytes(1, this.#local).finish())
      .bytes(3, new ProtoWriter().bytes(1, this.#remote).finish())
      .finish();
  }

  /**
   * Compares a payload scanned from the other phone with ours, as libsignal's
   * `ScannableFingerprint::compare`: decode (else `malformed`), versions must be equal (else
   * `version-mismatch`; an absent version counts as 0), both contents present (else `malformed`), then
   * their local must equal our remote and their remote our local, both checked in constant time.
   * A payload compared with itself is a `mismatch`.
   */
  compare(theirs: Uint8Array | ScannableFingerprint): CompareResult {
    const bytes = theirs instanceof ScannableFingerprint ? theirs.serialize() : theirs;
    assertBytes(bytes, 'theirs');
    const d = decodeOrMalformed(bytes);
    if (d instanceof DecodeError) return { status: 'malformed', error: d };
    const theirVersion = d.version ?? 0;
    if (theirVersion !== this.version) {
      return { status: 'version-mismatch', ours: this.version, theirs: theirVersion };
    }
    if (d.local === undefined) {
      return { status: 'malformed', error: new DecodeError('scanned fingerprint is missing its local part') };
    }
    if (d.remote === undefined) {
      return {
        status: 'malformed',
        error: new DecodeError('scanned fingerprint is missing its remote part'),
      };
    }
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
