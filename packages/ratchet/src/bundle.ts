/**
 * `PreKeyBundle`: what an initiator fetches from the server for one device of the peer. Build it from
 * the parts the server returns (`PreKeyBundle.from`), or make one locally with `createPreKeyBundle`.
 */
import {
  assertBytes,
  copyBytes,
  DecodeError,
  KemPublicKey,
  MAX_DEVICE_ID,
  ProtoReader,
  ProtoWriter,
  PublicKey,
  SIGNATURE_LENGTH,
  validateRegistrationId,
  WireType,
} from '@e2ee-kit/core';
import { brandClass, classBrand, fromOtherCopy } from './other-copy.js';
import { RecordTag, unwrapRecord, wrapRecord } from './records/container.js';
import { checkPreKeyId } from './records/ids.js';

const FORMAT_VERSION = 1;
const BUNDLE = classBrand('PreKeyBundle');
/** A serialized bundle is under 2 kB (the Kyber key is 1569 bytes); another copy's longer one is refused. */
const MAX_BUNDLE_LENGTH = 4096;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * The parts of a bundle, in libsignal's `PreKeyBundle.new` order of meaning. Keys may be given as key
 * objects or as their serialized bytes (33-byte EC keys `0x05‖u`, 1569-byte Kyber keys `0x08‖…`).
 * The one-time pre-key and the Kyber pre-key are optional (give both id and key, or neither).
 */
export interface PreKeyBundleParts {
  registrationId: number;
  deviceId: number;
  preKeyId?: number | null | undefined;
  preKey?: PublicKey | Uint8Array | null | undefined;
  signedPreKeyId: number;
  signedPreKey: PublicKey | Uint8Array;
  signedPreKeySignature: Uint8Array;
  identityKey: PublicKey | Uint8Array;
  kyberPreKeyId?: number | null | undefined;
  kyberPreKey?: KemPublicKey | Uint8Array | null | undefined;
  kyberPreKeySignature?: Uint8Array | null | undefined;
}

/** A bundle's parts as bytes (absent parts are `null`): feed them to libsignal's `PreKeyBundle.new`. */
export interface PreKeyBundleBytes {
  registrationId: number;
  deviceId: number;
  preKeyId: number | null;
  preKey: Uint8Array | null;
  signedPreKeyId: number;
  signedPreKey: Uint8Array;
  signedPreKeySignature: Uint8Array;
  identityKey: Uint8Array;
  kyberPreKeyId: number | null;
  kyberPreKey: Uint8Array | null;
  kyberPreKeySignature: Uint8Array | null;
}

export class PreKeyBundle {
  readonly registrationId: number;
  readonly deviceId: number;
  readonly identityKey: PublicKey;
  readonly preKey: { readonly id: number; readonly publicKey: PublicKey } | undefined;
  readonly signedPreKey: {
    readonly id: number;
    readonly publicKey: PublicKey;
    readonly signature: Uint8Array;
  };
  readonly kyberPreKey:
    | { readonly id: number; readonly publicKey: KemPublicKey; readonly signature: Uint8Array }
    | undefined;

  private constructor(b: {
    registrationId: number;
    deviceId: number;
    identityKey: PublicKey;
    preKey: PreKeyBundle['preKey'];
    signedPreKey: PreKeyBundle['signedPreKey'];
    kyberPreKey: PreKeyBundle['kyberPreKey'];
  }) {
    this.registrationId = b.registrationId;
    this.deviceId = b.deviceId;
    this.identityKey = b.identityKey;
    this.preKey = b.preKey;
    this.signedPreKey = b.signedPreKey;
    this.kyberPreKey = b.kyberPreKey;
    Object.freeze(this);
  }

  /**
   * Builds a bundle from parts. Wrong JavaScript types are `TypeError`/`RangeError`; key bytes that do
   * not parse (wrong length, unknown type byte) are `DecodeError`. Signatures are checked later, by
   * `SessionCipher.initiate` (a bad one is a `VerificationError`).
   */
  static from(parts: PreKeyBundleParts): PreKeyBundle {
    if (parts === null || typeof parts !== 'object') throw new TypeError('parts must be an object');
    validateRegistrationId(parts.registrationId);
    const deviceId = parts.deviceId;
    if (typeof deviceId !== 'number' || !Number.isInteger(deviceId))
      throw new TypeError('deviceId must be an integer');
    if (deviceId < 1 || deviceId > MAX_DEVICE_ID)
      throw new RangeError(`deviceId must be 1..${MAX_DEVICE_ID}`);
    const identityKey = ecKey(parts.identityKey, 'identityKey');
    checkPreKeyId(parts.signedPreKeyId, 'signedPreKeyId');
    const signedPreKey = Object.freeze({
      id: parts.signedPreKeyId,
      publicKey: ecKey(parts.signedPreKey, 'signedPreKey'),
      signature: signature(parts.signedPreKeySignature, 'signedPreKeySignature'),
    });
    let preKey: PreKeyBundle['preKey'];
    const hasPreKeyId = parts.preKeyId !== undefined && parts.preKeyId !== null;
    const hasPreKey = parts.preKey !== undefined && parts.preKey !== null;
    if (hasPreKeyId !== hasPreKey) throw new TypeError('preKeyId and preKey must be given together');
    if (hasPreKeyId) {
      checkPreKeyId(parts.preKeyId, 'preKeyId');
      preKey = Object.freeze({ id: parts.preKeyId, publicKey: ecKey(parts.preKey, 'preKey') });
    }
    let kyberPreKey: PreKeyBundle['kyberPreKey'];
    const k = [parts.kyberPreKeyId, parts.kyberPreKey, parts.kyberPreKeySignature].map(
      (v) => v !== undefined && v !== null,
    );
    if (k[0] !== k[1] || k[1] !== k[2])
      throw new TypeError('kyberPreKeyId, kyberPreKey and kyberPreKeySignature must be given together');
    if (k[0]) {
      checkPreKeyId(parts.kyberPreKeyId, 'kyberPreKeyId');
      const pk = parts.kyberPreKey;
      // A key object of either copy of core (`KemPublicKey.from`), or its bytes.
      const publicKey =
        pk instanceof Uint8Array ? KemPublicKey.deserialize(pk) : KemPublicKey.from(pk, 'kyberPreKey');
      kyberPreKey = Object.freeze({
        id: parts.kyberPreKeyId,
        publicKey,
        signature: signature(parts.kyberPreKeySignature, 'kyberPreKeySignature'),
      });
    }
    return new PreKeyBundle({
      registrationId: parts.registrationId,
      deviceId,
      identityKey,
      preKey,
      signedPreKey,
      kyberPreKey,
    });
  }

  /** The parts as bytes, `null` for absent ones (the argument order of libsignal's `PreKeyBundle.new`). */
  toParts(): PreKeyBundleBytes {
    return {
      registrationId: this.registrationId,
      deviceId: this.deviceId,
      preKeyId: this.preKey?.id ?? null,
      preKey: this.preKey?.publicKey.serialize() ?? null,
      signedPreKeyId: this.signedPreKey.id,
      signedPreKey: this.signedPreKey.publicKey.serialize(),
      signedPreKeySignature: this.signedPreKey.signature.slice(),
      identityKey: this.identityKey.serialize(),
      kyberPreKeyId: this.kyberPreKey?.id ?? null,
      kyberPreKey: this.kyberPreKey?.publicKey.serialize() ?? null,
      kyberPreKeySignature: this.kyberPreKey?.signature.slice() ?? null,
    };
  }

  /**
   * Format v1: tag 0x06, version 1, protobuf `{1: registration id, 2: device id, 3: pre-key id,
   * 4: pre-key, 5: signed id, 6: signed key, 7: signed signature, 8: identity key, 9: Kyber id,
   * 10: Kyber key, 11: Kyber signature}`.
   */
  serialize(): Uint8Array {
    const p = this.toParts();
    const w = new ProtoWriter().uint32(1, p.registrationId).uint32(2, p.deviceId);
    if (p.preKeyId !== null && p.preKey) w.uint32(3, p.preKeyId).bytes(4, p.preKey);
    w.uint32(5, p.signedPreKeyId)
      .bytes(6, p.signedPreKey)
      .bytes(7, p.signedPreKeySignature)
      .bytes(8, p.identityKey);
    if (p.kyberPreKeyId !== null && p.kyberPreKey && p.kyberPreKeySignature) {
      w.uint32(9, p.kyberPreKeyId).bytes(10, p.kyberPreKey).bytes(11, p.kyberPreKeySignature);
    }
    return wrapRecord(RecordTag.PreKeyBundle, FORMAT_VERSION, w.finish());
  }

  /** Parses `serialize()` output; anything malformed is a `DecodeError`. */
  static deserialize(bytes: Uint8Array): PreKeyBundle {
    const { payload } = unwrapRecord(bytes, RecordTag.PreKeyBundle, 'PreKeyBundle', FORMAT_VERSION);
    const r = new ProtoReader(payload);
    const nums = new Map<number, number>();
    const blobs = new Map<number, Uint8Array>();
    for (let h = r.next(); h; h = r.next()) {
      if (h.field === 1 || h.field === 2 || h.field === 3 || h.field === 5 || h.field === 9) {
        r.expect(h, WireType.Varint);
        nums.set(h.field, r.uint32());
      } else if (h.field === 4 || (h.field >= 6 && h.field <= 8) || h.field === 10 || h.field === 11) {
        r.expect(h, WireType.LengthDelimited);
        blobs.set(h.field, r.bytes());
      } else r.skip(h.wireType);
    }
    const registrationId = nums.get(1);
    const deviceId = nums.get(2);
    const signedPreKeyId = nums.get(5);
    const signedPreKey = blobs.get(6);
    const signedPreKeySignature = blobs.get(7);
    const identityKey = blobs.get(8);
    if (
      registrationId === undefined ||
      deviceId === undefined ||
      signedPreKeyId === undefined ||
      !signedPreKey ||
      !signedPreKeySignature ||
      !identityKey
    ) {
      throw new DecodeError('PreKeyBundle is missing a field');
    }
    const opt = (n: number | undefined, b: Uint8Array | undefined) => (n === undefined) !== (b === undefined);
    if (
      opt(nums.get(3), blobs.get(4)) ||
      opt(nums.get(9), blobs.get(10)) ||
      opt(nums.get(9), blobs.get(11))
    ) {
      throw new DecodeError('PreKeyBundle has an incomplete optional pre-key');
    }
    if (registrationId > 0x7fffffff || deviceId < 1 || deviceId > MAX_DEVICE_ID)
      throw new DecodeError('PreKeyBundle has an out-of-range id');
    if (
      signedPreKeySignature.length !== SIGNATURE_LENGTH ||
      (blobs.get(11) && blobs.get(11)?.length !== SIGNATURE_LENGTH)
    )
      throw new DecodeError('PreKeyBundle signature has the wrong length');
    return PreKeyBundle.from({
      registrationId,
      deviceId,
      preKeyId: nums.get(3),
      preKey: blobs.get(4),
      signedPreKeyId,
      signedPreKey,
      signedPreKeySignature,
      identityKey,
      kyberPreKeyId: nums.get(9),
      kyberPreKey: blobs.get(10),
      kyberPreKeySignature: blobs.get(11),
    });
  }

  toString(): string {
    return `[PreKeyBundle device ${this.deviceId}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

/** A key object of either copy of core (`PublicKey.from`), or its bytes. */
function ecKey(v: unknown, name: string): PublicKey {
  return v instanceof Uint8Array ? PublicKey.deserialize(v) : PublicKey.from(v, name);
}

brandClass(PreKeyBundle, BUNDLE);

/**
 * `value` as this copy's `PreKeyBundle`: itself, or another copy's bundle (an app that loads two
 * copies of this package) read through its `serialize()` (`DecodeError` if that is not a bundle).
 */
export function ownPreKeyBundle(value: unknown, refusal: string): PreKeyBundle {
  const own = fromOtherCopy(value, PreKeyBundle, BUNDLE, 'PreKeyBundle', MAX_BUNDLE_LENGTH);
  if (own === undefined) throw new TypeError(refusal);
  return own;
}

function signature(v: unknown, name: string): Uint8Array {
  assertBytes(v, name, SIGNATURE_LENGTH);
  return copyBytes(v);
}
