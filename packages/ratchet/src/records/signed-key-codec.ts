/**
 * The layout shared by libsignal's `SignedPreKeyRecordStructure` and `KyberPreKeyRecordStructure`:
 * `{ 1: id, 2: public key, 3: private key, 4: signature, 5: timestamp ms (fixed64) }`, plus our field
 * `100: last_resort (bool)` for Kyber pre-keys.
 */
import { DecodeError, ProtoReader, ProtoWriter, SIGNATURE_LENGTH, WireType } from '@e2ee-kit/core';

export interface SignedKeyFields {
  id: number;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  signature: Uint8Array;
  timestamp: number;
  lastResort: boolean;
}

export function encodeSignedKey(f: SignedKeyFields): Uint8Array {
  const w = new ProtoWriter()
    .uint32(1, f.id)
    .bytes(2, f.publicKey)
    .bytes(3, f.privateKey)
    .bytes(4, f.signature)
    .fixed64(5, BigInt(f.timestamp));
  if (f.lastResort) w.bool(100, true);
  return w.finish();
}

export function decodeSignedKey(payload: Uint8Array, what: string): SignedKeyFields {
  const r = new ProtoReader(payload);
  let id: number | undefined;
  let publicKey: Uint8Array | undefined;
  let privateKey: Uint8Array | undefined;
  let signature: Uint8Array | undefined;
  let timestamp = 0n;
  let lastResort = false;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      id = r.uint32();
    } else if (h.field >= 2 && h.field <= 4) {
      r.expect(h, WireType.LengthDelimited);
      const b = r.bytes();
      if (h.field === 2) publicKey = b;
      else if (h.field === 3) privateKey = b;
      else signature = b;
    } else if (h.field === 5) {
      r.expect(h, WireType.Fixed64);
      timestamp = r.fixed64();
    } else if (h.field === 100) {
      r.expect(h, WireType.Varint);
      lastResort = r.bool();
    } else r.skip(h.wireType);
  }
  if (id === undefined || !publicKey || !privateKey || !signature)
    throw new DecodeError(`${what} is missing a field`);
  if (signature.length !== SIGNATURE_LENGTH) throw new DecodeError(`${what} signature has the wrong length`);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${what} timestamp out of range`);
  return { id, publicKey, privateKey, signature, timestamp: Number(timestamp), lastResort };
}
