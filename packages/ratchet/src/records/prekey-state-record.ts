import { DecodeError, ProtoReader, ProtoWriter, redact, WireType } from '@e2ee-kit/core';
import { brandRecord, RecordTag, unwrapRecord, wrapRecord } from './container.js';
import { checkPreKeyId, MAX_PREKEY_ID } from './ids.js';
import { checkTimestamp } from './signed-prekey-record.js';

const FORMAT_VERSION = 1;

/** A key that was replaced and is kept until `retiredAt` + the grace period. */
export interface RetiredKey {
  readonly id: number;
  /** When it stopped being current, ms since 1970. */
  readonly retiredAt: number;
}

export interface PreKeyStateFields {
  /** Next id for a one-time EC pre-key (ids are never reused). */
  readonly nextPreKeyId: number;
  readonly nextSignedPreKeyId: number;
  readonly nextKyberPreKeyId: number;
  /** The signed pre-key currently published, if any. */
  readonly currentSignedPreKeyId?: number | undefined;
  /** Replaced signed pre-keys still accepted for in-flight PreKey messages. */
  readonly retiredSignedPreKeys: readonly RetiredKey[];
  /** The last-resort Kyber pre-key currently published, if any. */
  readonly currentLastResortKyberPreKeyId?: number | undefined;
  readonly retiredLastResortKyberPreKeys: readonly RetiredKey[];
  /**
   * The newest signed pre-key the app confirmed the server holds (`PreKeyManager.confirmUpload`): kept
   * past its grace period until a newer one is confirmed. Absent in records from earlier releases.
   */
  readonly uploadedSignedPreKeyId?: number | undefined;
  /** The same for the last-resort Kyber pre-key. */
  readonly uploadedLastResortKyberPreKeyId?: number | undefined;
  /** One-time EC pre-keys below this id were confirmed uploaded; the ones above are offered again. */
  readonly uploadedNextPreKeyId?: number | undefined;
  /** The same for one-time Kyber pre-keys. */
  readonly uploadedNextKyberPreKeyId?: number | undefined;
}

/**
 * What `PreKeyManager` persists: next ids and the rotation schedule. Format v1: tag 0x05, version 1,
 * protobuf `{1,2,3: next ids; 4: current signed id; 5: retired signed {1: id, 2: retiredAt};
 * 6: current last-resort Kyber id; 7: retired last-resort Kyber {1: id, 2: retiredAt};
 * 8: uploaded signed id; 9: uploaded last-resort Kyber id; 10, 11: first one-time EC / Kyber id not
 * confirmed uploaded}` (8–11 added later: older readers skip them).
 */
export class PreKeyStateRecord implements PreKeyStateFields {
  readonly nextPreKeyId: number;
  readonly nextSignedPreKeyId: number;
  readonly nextKyberPreKeyId: number;
  readonly currentSignedPreKeyId: number | undefined;
  readonly retiredSignedPreKeys: readonly RetiredKey[];
  readonly currentLastResortKyberPreKeyId: number | undefined;
  readonly retiredLastResortKyberPreKeys: readonly RetiredKey[];
  readonly uploadedSignedPreKeyId: number | undefined;
  readonly uploadedLastResortKyberPreKeyId: number | undefined;
  readonly uploadedNextPreKeyId: number | undefined;
  readonly uploadedNextKyberPreKeyId: number | undefined;

  constructor(fields: PreKeyStateFields) {
    for (const k of ['nextPreKeyId', 'nextSignedPreKeyId', 'nextKyberPreKeyId'] as const) {
      checkPreKeyId(fields[k], k);
    }
    if (fields.currentSignedPreKeyId !== undefined)
      checkPreKeyId(fields.currentSignedPreKeyId, 'currentSignedPreKeyId');
    for (const k of [
      'currentLastResortKyberPreKeyId',
      'uploadedSignedPreKeyId',
      'uploadedLastResortKyberPreKeyId',
      'uploadedNextPreKeyId',
      'uploadedNextKyberPreKeyId',
    ] as const)
      if (fields[k] !== undefined) checkPreKeyId(fields[k], k);
    this.nextPreKeyId = fields.nextPreKeyId;
    this.nextSignedPreKeyId = fields.nextSignedPreKeyId;
    this.nextKyberPreKeyId = fields.nextKyberPreKeyId;
    this.currentSignedPreKeyId = fields.currentSignedPreKeyId;
    this.currentLastResortKyberPreKeyId = fields.currentLastResortKyberPreKeyId;
    this.uploadedSignedPreKeyId = fields.uploadedSignedPreKeyId;
    this.uploadedLastResortKyberPreKeyId = fields.uploadedLastResortKyberPreKeyId;
    this.uploadedNextPreKeyId = fields.uploadedNextPreKeyId;
    this.uploadedNextKyberPreKeyId = fields.uploadedNextKyberPreKeyId;
    this.retiredSignedPreKeys = Object.freeze(fields.retiredSignedPreKeys.map(checkRetired));
    this.retiredLastResortKyberPreKeys = Object.freeze(
      fields.retiredLastResortKyberPreKeys.map(checkRetired),
    );
    Object.freeze(this);
  }

  /** A copy with some fields replaced. */
  with(changes: Partial<PreKeyStateFields>): PreKeyStateRecord {
    return new PreKeyStateRecord({ ...this.#fields(), ...changes });
  }

  #fields(): PreKeyStateFields {
    return {
      nextPreKeyId: this.nextPreKeyId,
      nextSignedPreKeyId: this.nextSignedPreKeyId,
      nextKyberPreKeyId: this.nextKyberPreKeyId,
      currentSignedPreKeyId: this.currentSignedPreKeyId,
      retiredSignedPreKeys: this.retiredSignedPreKeys,
      currentLastResortKyberPreKeyId: this.currentLastResortKyberPreKeyId,
      retiredLastResortKyberPreKeys: this.retiredLastResortKyberPreKeys,
      uploadedSignedPreKeyId: this.uploadedSignedPreKeyId,
      uploadedLastResortKyberPreKeyId: this.uploadedLastResortKyberPreKeyId,
      uploadedNextPreKeyId: this.uploadedNextPreKeyId,
      uploadedNextKyberPreKeyId: this.uploadedNextKyberPreKeyId,
    };
  }

  serialize(): Uint8Array {
    const w = new ProtoWriter()
      .uint32(1, this.nextPreKeyId)
      .uint32(2, this.nextSignedPreKeyId)
      .uint32(3, this.nextKyberPreKeyId);
    if (this.currentSignedPreKeyId !== undefined) w.uint32(4, this.currentSignedPreKeyId);
    for (const r of this.retiredSignedPreKeys) w.bytes(5, encodeRetired(r));
    if (this.currentLastResortKyberPreKeyId !== undefined) w.uint32(6, this.currentLastResortKyberPreKeyId);
    for (const r of this.retiredLastResortKyberPreKeys) w.bytes(7, encodeRetired(r));
    if (this.uploadedSignedPreKeyId !== undefined) w.uint32(8, this.uploadedSignedPreKeyId);
    if (this.uploadedLastResortKyberPreKeyId !== undefined) w.uint32(9, this.uploadedLastResortKyberPreKeyId);
    if (this.uploadedNextPreKeyId !== undefined) w.uint32(10, this.uploadedNextPreKeyId);
    if (this.uploadedNextKyberPreKeyId !== undefined) w.uint32(11, this.uploadedNextKyberPreKeyId);
    return wrapRecord(RecordTag.PreKeyState, FORMAT_VERSION, w.finish());
  }

  static deserialize(bytes: Uint8Array): PreKeyStateRecord {
    const { payload } = unwrapRecord(bytes, RecordTag.PreKeyState, 'PreKeyStateRecord', FORMAT_VERSION);
    const r = new ProtoReader(payload);
    const ids: (number | undefined)[] = [];
    let currentSigned: number | undefined;
    let currentKyber: number | undefined;
    const uploaded: (number | undefined)[] = [];
    const retiredSigned: RetiredKey[] = [];
    const retiredKyber: RetiredKey[] = [];
    for (let h = r.next(); h; h = r.next()) {
      if (h.field >= 1 && h.field <= 3) {
        r.expect(h, WireType.Varint);
        ids[h.field] = r.uint32();
      } else if (h.field === 4) {
        r.expect(h, WireType.Varint);
        currentSigned = r.uint32();
      } else if (h.field === 6) {
        r.expect(h, WireType.Varint);
        currentKyber = r.uint32();
      } else if (h.field >= 8 && h.field <= 11) {
        r.expect(h, WireType.Varint);
        uploaded[h.field - 8] = r.uint32();
      } else if (h.field === 5 || h.field === 7) {
        r.expect(h, WireType.LengthDelimited);
        const list = h.field === 5 ? retiredSigned : retiredKyber;
        if (list.length >= 10_000) throw new DecodeError('PreKeyStateRecord has too many retired keys');
        list.push(decodeRetired(r.bytes()));
      } else r.skip(h.wireType);
    }
    const [, a, b, c] = ids;
    if (a === undefined || b === undefined || c === undefined)
      throw new DecodeError('PreKeyStateRecord is missing a field');
    return new PreKeyStateRecord({
      nextPreKeyId: a,
      nextSignedPreKeyId: b,
      nextKyberPreKeyId: c,
      currentSignedPreKeyId: currentSigned,
      retiredSignedPreKeys: retiredSigned,
      currentLastResortKyberPreKeyId: currentKyber,
      retiredLastResortKyberPreKeys: retiredKyber,
      uploadedSignedPreKeyId: uploaded[0],
      uploadedLastResortKyberPreKeyId: uploaded[1],
      uploadedNextPreKeyId: uploaded[2],
      uploadedNextKyberPreKeyId: uploaded[3],
    });
  }
}
brandRecord(PreKeyStateRecord, 'PreKeyStateRecord');
redact(PreKeyStateRecord, '[PreKeyStateRecord]');

function checkRetired(r: RetiredKey): RetiredKey {
  checkPreKeyId(r?.id, 'retired key id');
  checkTimestamp(r.retiredAt);
  return Object.freeze({ id: r.id, retiredAt: r.retiredAt });
}

function encodeRetired(r: RetiredKey): Uint8Array {
  return new ProtoWriter().uint32(1, r.id).fixed64(2, BigInt(r.retiredAt)).finish();
}

function decodeRetired(bytes: Uint8Array): RetiredKey {
  const r = new ProtoReader(bytes);
  let id: number | undefined;
  let at: bigint | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      id = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.Fixed64);
      at = r.fixed64();
    } else r.skip(h.wireType);
  }
  if (id === undefined || at === undefined || at > BigInt(Number.MAX_SAFE_INTEGER))
    throw new DecodeError('PreKeyStateRecord has an invalid retired key');
  return { id, retiredAt: Number(at) };
}

export { MAX_PREKEY_ID };
