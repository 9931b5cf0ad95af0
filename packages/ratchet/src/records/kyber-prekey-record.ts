import {
  assertBytes,
  DecodeError,
  type KemKeyPair,
  KemPublicKey,
  KemSecretKey,
  ProtoReader,
  ProtoWriter,
  SIGNATURE_LENGTH,
  WireType,
} from '@e2ee-kit/core';
import { RecordTag, unwrapRecord, wrapRecord } from './container.js';
import { checkPreKeyId } from './ids.js';
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
    if (!(keyPair?.publicKey instanceof KemPublicKey) || !(keyPair.secretKey instanceof KemSecretKey)) {
      throw new TypeError('keyPair must be a KemKeyPair');
    }
    assertBytes(signature, 'signature', SIGNATURE_LENGTH);
    if (typeof lastResort !== 'boolean') throw new TypeError('lastResort must be a boolean');
    this.id = id;
    this.timestamp = timestamp;
    this.keyPair = keyPair;
    this.lastResort = lastResort;
    this.#signature = signature.slice();
  }

  get publicKey(): KemPublicKey {
    return this.keyPair.publicKey;
  }

  get signature(): Uint8Array {
    return this.#signature.slice();
  }

  serialize(): Uint8Array {
    const w = new ProtoWriter()
      .uint32(1, this.id)
      .bytes(2, this.keyPair.publicKey.serialize())
      .bytes(3, this.keyPair.secretKey.serialize())
      .bytes(4, this.#signature)
      .fixed64(5, BigInt(this.timestamp));
    if (this.lastResort) w.bool(100, true);
    return wrapRecord(RecordTag.KyberPreKey, FORMAT_VERSION, w.finish());
  }

  static deserialize(bytes: Uint8Array): KyberPreKeyRecord {
    const { payload } = unwrapRecord(bytes, RecordTag.KyberPreKey, 'KyberPreKeyRecord', FORMAT_VERSION);
    const r = new ProtoReader(payload);
    let id: number | undefined;
    let pub: Uint8Array | undefined;
    let sec: Uint8Array | undefined;
    let sig: Uint8Array | undefined;
    let ts = 0n;
    let lastResort = false;
    for (let h = r.next(); h; h = r.next()) {
      switch (h.field) {
        case 1:
          r.expect(h, WireType.Varint);
          id = r.uint32();
          break;
        case 2:
          r.expect(h, WireType.LengthDelimited);
          pub = r.bytes();
          break;
        case 3:
          r.expect(h, WireType.LengthDelimited);
          sec = r.bytes();
          break;
        case 4:
          r.expect(h, WireType.LengthDelimited);
          sig = r.bytes();
          break;
        case 5:
          r.expect(h, WireType.Fixed64);
          ts = r.fixed64();
          break;
        case 100:
          r.expect(h, WireType.Varint);
          lastResort = r.bool();
          break;
        default:
          r.skip(h.wireType);
      }
    }
    if (id === undefined || !pub || !sec || !sig)
      throw new DecodeError('KyberPreKeyRecord is missing a field');
    if (sig.length !== SIGNATURE_LENGTH)
      throw new DecodeError('KyberPreKeyRecord signature has the wrong length');
    if (ts > BigInt(Number.MAX_SAFE_INTEGER))
      throw new DecodeError('KyberPreKeyRecord timestamp out of range');
    const publicKey = KemPublicKey.deserialize(pub);
    const secretKey = KemSecretKey.deserialize(sec);
    if (publicKey.type !== secretKey.type) throw new DecodeError('KyberPreKeyRecord key types differ');
    return new KyberPreKeyRecord(id, Number(ts), { publicKey, secretKey }, sig, lastResort);
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
