import {
  assertBytes,
  copyBytes,
  DecodeError,
  type KemKeyPair,
  KemPublicKey,
  KemSecretKey,
  SIGNATURE_LENGTH,
} from '@e2ee-kit/core';
import { brandRecord, RecordTag, unwrapRecord, wrapRecord } from './container.js';
import { checkPreKeyId } from './ids.js';
import { decodeSignedKey, encodeSignedKey } from './signed-key-codec.js';
import { checkTimestamp } from './signed-prekey-record.js';

const FORMAT_VERSION = 1;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A Kyber-1024 pre-key (type byte 0x08) with an XEdDSA signature by the identity key over the
 * 1569-byte serialized public key. `lastResort` keys are kept after use (libsignal's "last resort"
 * Kyber pre-key); one-time keys are deleted by `markKyberPreKeyUsed`.
 *
 * Format v1: tag 0x04, version 1, then libsignal's `KyberPreKeyRecordStructure` (same layout as the
 * signed pre-key: `1: id, 2: public (1569 B), 3: secret (3169 B), 4: signature, 5: timestamp fixed64`)
 * plus our field `100: last_resort (bool)`.
 */
export class KyberPreKeyRecord {
  readonly id: number;
  readonly timestamp: number;
  readonly keyPair: KemKeyPair;
  readonly lastResort: boolean;
  readonly #signature: Uint8Array;

  constructor(id: number, timestamp: number, keyPair: KemKeyPair, signature: Uint8Array, lastResort = false) {
    checkPreKeyId(id, 'Kyber pre-key id');
    checkTimestamp(timestamp);
    if (keyPair === null || typeof keyPair !== 'object') throw new TypeError('keyPair must be a KemKeyPair');
    assertBytes(signature, 'signature', SIGNATURE_LENGTH);
    if (typeof lastResort !== 'boolean') throw new TypeError('lastResort must be a boolean');
    // Keys of another copy of core (an app that loads two) are read as this copy's; checked last, so
    // that no refusal after it leaves our copy of another copy's secret key behind unwiped.
    this.keyPair = ownKemKeyPair(keyPair);
    this.id = id;
    this.timestamp = timestamp;
    this.lastResort = lastResort;
    this.#signature = copyBytes(signature);
  }

  get publicKey(): KemPublicKey {
    return this.keyPair.publicKey;
  }

  get signature(): Uint8Array {
    return copyBytes(this.#signature);
  }

  serialize(): Uint8Array {
    const body = encodeSignedKey({
      id: this.id,
      publicKey: this.keyPair.publicKey.serialize(),
      privateKey: this.keyPair.secretKey.serialize(),
      signature: this.#signature,
      timestamp: this.timestamp,
      lastResort: this.lastResort,
    });
    return wrapRecord(RecordTag.KyberPreKey, FORMAT_VERSION, body);
  }

  static deserialize(bytes: Uint8Array): KyberPreKeyRecord {
    const { payload } = unwrapRecord(bytes, RecordTag.KyberPreKey, 'KyberPreKeyRecord', FORMAT_VERSION);
    const f = decodeSignedKey(payload, 'KyberPreKeyRecord');
    const publicKey = KemPublicKey.deserialize(f.publicKey);
    const secretKey = KemSecretKey.deserialize(f.privateKey);
    if (publicKey.type !== secretKey.type) throw new DecodeError('KyberPreKeyRecord key types differ');
    return new KyberPreKeyRecord(f.id, f.timestamp, { publicKey, secretKey }, f.signature, f.lastResort);
  }

  toString(): string {
    return `[KyberPreKeyRecord ${this.id}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
brandRecord(KyberPreKeyRecord, 'KyberPreKeyRecord');

/**
 * `keyPair` itself when both keys are this copy of core's; else the pair with another copy's keys read
 * as this copy's (`KemPublicKey.from`, `KemSecretKey.from`): the public key first, so that no refusal
 * comes after our copy of the secret key is made.
 */
function ownKemKeyPair(keyPair: KemKeyPair): KemKeyPair {
  const { publicKey, secretKey } = keyPair;
  if (publicKey instanceof KemPublicKey && secretKey instanceof KemSecretKey) return keyPair;
  const ownPublic = KemPublicKey.from(publicKey, 'keyPair.publicKey');
  return Object.freeze({
    publicKey: ownPublic,
    secretKey: KemSecretKey.from(secretKey, 'keyPair.secretKey'),
  });
}
