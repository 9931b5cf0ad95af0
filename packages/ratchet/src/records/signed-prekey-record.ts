import {
  assertBytes,
  DecodeError,
  KeyPair,
  PrivateKey,
  ProtoReader,
  ProtoWriter,
  PublicKey,
  SIGNATURE_LENGTH,
  WireType,
} from '@e2ee-kit/core';
import { RecordTag, unwrapRecord, wrapRecord } from './container.js';
import { checkPreKeyId } from './ids.js';

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
    if (!(keyPair instanceof KeyPair)) throw new TypeError('keyPair must be a KeyPair');
    assertBytes(signature, 'signature', SIGNATURE_LENGTH);
    this.id = id;
    this.timestamp = timestamp;
    this.keyPair = keyPair;
    this.#signature = signature.slice();
  }

  get publicKey(): PublicKey {
    return this.keyPair.publicKey;
  }

  /** The 64-byte XEdDSA signature (a copy). */
  get signature(): Uint8Array {
    return this.#signature.slice();
  }

  serialize(): Uint8Array {
    const body = new ProtoWriter()
      .uint32(1, this.id)
      .bytes(2, this.keyPair.publicKey.serialize())
      .bytes(3, this.keyPair.privateKey.serialize())
      .bytes(4, this.#signature)
      .fixed64(5, BigInt(this.timestamp))
      .finish();
    return wrapRecord(RecordTag.SignedPreKey, FORMAT_VERSION, body);
  }

  static deserialize(bytes: Uint8Array): SignedPreKeyRecord {
    const { payload } = unwrapRecord(bytes, RecordTag.SignedPreKey, 'SignedPreKeyRecord', FORMAT_VERSION);
    const r = new ProtoReader(payload);
    let id: number | undefined;
    let pub: Uint8Array | undefined;
    let priv: Uint8Array | undefined;
    let sig: Uint8Array | undefined;
    let ts = 0n;
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
          priv = r.bytes();
          break;
        case 4:
          r.expect(h, WireType.LengthDelimited);
          sig = r.bytes();
          break;
        case 5:
          r.expect(h, WireType.Fixed64);
          ts = r.fixed64();
          break;
        default:
          r.skip(h.wireType);
      }
    }
    if (id === undefined || !pub || !priv || !sig)
      throw new DecodeError('SignedPreKeyRecord is missing a field');
    if (sig.length !== SIGNATURE_LENGTH)
      throw new DecodeError('SignedPreKeyRecord signature has the wrong length');
    if (ts > BigInt(Number.MAX_SAFE_INTEGER))
      throw new DecodeError('SignedPreKeyRecord timestamp out of range');
    const kp = new KeyPair(PublicKey.deserialize(pub), PrivateKey.deserialize(priv));
    return new SignedPreKeyRecord(id, Number(ts), kp, sig);
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
