import {
  DecodeError,
  KeyPair,
  PrivateKey,
  ProtoReader,
  ProtoWriter,
  PublicKey,
  WireType,
} from '@e2ee-kit/core';
import { brandRecord, RecordTag, unwrapRecord, wrapRecord } from './container.js';
import { checkPreKeyId } from './ids.js';

const FORMAT_VERSION = 1;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A one-time EC pre-key. Format v1: tag 0x02, version 1, then libsignal's `PreKeyRecordStructure`
 * protobuf `{ 1: id, 2: public key (33 B), 3: private key (32 B) }`.
 */
export class PreKeyRecord {
  readonly id: number;
  readonly keyPair: KeyPair;

  constructor(id: number, keyPair: KeyPair) {
    checkPreKeyId(id, 'pre-key id');
    this.id = id;
    this.keyPair = KeyPair.from(keyPair, 'keyPair'); // another copy of core's: read as this copy's
  }

  get publicKey(): PublicKey {
    return this.keyPair.publicKey;
  }

  serialize(): Uint8Array {
    const body = new ProtoWriter()
      .uint32(1, this.id)
      .bytes(2, this.keyPair.publicKey.serialize())
      .bytes(3, this.keyPair.privateKey.serialize())
      .finish();
    return wrapRecord(RecordTag.PreKey, FORMAT_VERSION, body);
  }

  static deserialize(bytes: Uint8Array): PreKeyRecord {
    const { payload } = unwrapRecord(bytes, RecordTag.PreKey, 'PreKeyRecord', FORMAT_VERSION);
    const r = new ProtoReader(payload);
    let id: number | undefined;
    let pub: Uint8Array | undefined;
    let priv: Uint8Array | undefined;
    for (let h = r.next(); h; h = r.next()) {
      if (h.field === 1) {
        r.expect(h, WireType.Varint);
        id = r.uint32();
      } else if (h.field === 2) {
        r.expect(h, WireType.LengthDelimited);
        pub = r.bytes();
      } else if (h.field === 3) {
        r.expect(h, WireType.LengthDelimited);
        priv = r.bytes();
      } else r.skip(h.wireType);
    }
    if (id === undefined || !pub || !priv) throw new DecodeError('PreKeyRecord is missing a field');
    return new PreKeyRecord(id, new KeyPair(PublicKey.deserialize(pub), PrivateKey.deserialize(priv)));
  }

  toString(): string {
    return `[PreKeyRecord ${this.id}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
brandRecord(PreKeyRecord, 'PreKeyRecord');
