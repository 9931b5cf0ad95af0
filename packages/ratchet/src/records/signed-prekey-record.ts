import { assertBytes, copyBytes, KeyPair, PrivateKey, PublicKey, SIGNATURE_LENGTH } from '@e2ee-kit/core';
import { brandRecord, RecordTag, unwrapRecord, wrapRecord } from './container.js';
import { checkPreKeyId } from './ids.js';
import { decodeSignedKey, encodeSignedKey } from './signed-key-codec.js';

const FORMAT_VERSION = 1;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export function checkTimestamp(timestamp: unknown): asserts timestamp is number {
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError('timestamp must be a non-negative safe integer (milliseconds since 1970)');
  }
}

/**
 * A signed pre-key: an EC key pair with an XEdDSA signature by the identity key over the 33-byte public
 * key. Format v1: tag 0x03, version 1, then libsignal's `SignedPreKeyRecordStructure`
 * `{ 1: id, 2: public (33 B), 3: private (32 B), 4: signature (64 B), 5: timestamp ms (fixed64) }`.
 */
export class SignedPreKeyRecord {
  readonly id: number;
  /** Creation time, milliseconds since 1970 (as libsignal). */
  readonly timestamp: number;
  readonly keyPair: KeyPair;
  readonly #signature: Uint8Array;

  constructor(id: number, timestamp: number, keyPair: KeyPair, signature: Uint8Array) {
    checkPreKeyId(id, 'signed pre-key id');
    checkTimestamp(timestamp);
    assertBytes(signature, 'signature', SIGNATURE_LENGTH);
    this.id = id;
    this.timestamp = timestamp;
    this.keyPair = KeyPair.from(keyPair, 'keyPair'); // another copy of core's: read as this copy's
    this.#signature = copyBytes(signature);
  }

  get publicKey(): PublicKey {
    return this.keyPair.publicKey;
  }

  /** The 64-byte XEdDSA signature (a copy). */
  get signature(): Uint8Array {
    return copyBytes(this.#signature);
  }

  serialize(): Uint8Array {
    const body = encodeSignedKey({
      id: this.id,
      publicKey: this.keyPair.publicKey.serialize(),
      privateKey: this.keyPair.privateKey.serialize(),
      signature: this.#signature,
      timestamp: this.timestamp,
      lastResort: false,
    });
    return wrapRecord(RecordTag.SignedPreKey, FORMAT_VERSION, body);
  }

  static deserialize(bytes: Uint8Array): SignedPreKeyRecord {
    const { payload } = unwrapRecord(bytes, RecordTag.SignedPreKey, 'SignedPreKeyRecord', FORMAT_VERSION);
    const f = decodeSignedKey(payload, 'SignedPreKeyRecord');
    const kp = new KeyPair(PublicKey.deserialize(f.publicKey), PrivateKey.deserialize(f.privateKey));
    return new SignedPreKeyRecord(f.id, f.timestamp, kp, f.signature);
  }

  toString(): string {
    return `[SignedPreKeyRecord ${this.id}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
brandRecord(SignedPreKeyRecord, 'SignedPreKeyRecord');
