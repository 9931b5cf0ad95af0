/**
 * The codec of one `SenderKeyRecord` state: libsignal's `SenderKeyStateStructure` field numbers 1–5
 * plus this package's own fields 6–8 and signing fields 3–4 (`ours`), as described in `record.ts`.
 */
import { DecodeError, ProtoReader, ProtoWriter, PublicKey, WireType } from '@e2ee-kit/core';
import { CHAIN_KEY_LENGTH, MAX_MESSAGE_KEYS, MAX_RECORD_HOLDERS_BYTES } from './constants.js';
import type { RotationReason } from './group-types.js';
import type { SenderKeyStateData, SkippedKey } from './record.js';

/** Field 9's values, from 1. */
const ROTATION_REASONS: readonly RotationReason[] = ['created', 'member-removed', 'expired', 'requested'];

// ---------------------------------------------------------------------------------------------
// encoding

/** Length of a varint for a non-negative safe integer. */
function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

/** Repeated field 4 of a state, written directly (it can hold 2,000 entries). */
function encodeSkipped(skipped: readonly SkippedKey[]): Uint8Array {
  let total = 0;
  const inner: number[] = new Array(skipped.length);
  for (let i = 0; i < skipped.length; i++) {
    const k = skipped[i] as SkippedKey;
    const len = (k.iteration === 0 ? 0 : 1 + varintLength(k.iteration)) + 2 + k.seed.length;
    inner[i] = len;
    total += 1 + varintLength(len) + len;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < skipped.length; i++) {
    const k = skipped[i] as SkippedKey;
    out[pos++] = 0x22; // field 4, length-delimited
    pos = writeVarint(out, pos, inner[i] as number);
    if (k.iteration !== 0) {
      out[pos++] = 0x08;
      pos = writeVarint(out, pos, k.iteration);
    }
    out[pos++] = 0x12;
    out[pos++] = k.seed.length;
    out.set(k.seed, pos);
    pos += k.seed.length;
  }
  return out;
}

export function encodeState(s: SenderKeyStateData, ours: boolean): Uint8Array {
  const head = new ProtoWriter();
  if (s.chainId !== 0) head.uint32(1, s.chainId);
  const chain = new ProtoWriter();
  if (s.iteration !== 0) chain.uint32(1, s.iteration);
  chain.bytes(2, s.chainKey);
  head.bytes(2, chain.finish());
  const signing = new ProtoWriter().bytes(1, s.signingPublic.serialize());
  if (s.signingPrivate !== undefined) signing.bytes(2, s.signingPrivate);
  if (ours && s.edSeed !== undefined) {
    signing.bytes(3, s.edSeed);
    if (s.edSignBit !== 0) signing.uint32(4, s.edSignBit);
  }
  head.bytes(3, signing.finish());
  const tail = new ProtoWriter();
  if (s.messageVersion !== 0) tail.uint32(5, s.messageVersion);
  if (ours) {
    if (s.supersededAt !== 0) tail.uint64(6, s.supersededAt);
    if (s.createdAt !== 0) tail.uint64(7, s.createdAt);
    if (s.holders !== undefined) tail.bytes(8, s.holders);
    if (s.rotation !== undefined) tail.uint32(9, ROTATION_REASONS.indexOf(s.rotation) + 1);
  }
  const a = head.finish();
  const b = encodeSkipped(s.skipped);
  const c = tail.finish();
  const out = new Uint8Array(a.length + b.length + c.length);
  out.set(a, 0);
  out.set(b, a.length);
  out.set(c, a.length + b.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// decoding

function readSafeUint64(r: ProtoReader): number {
  const v = r.uint64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('sender key record timestamp out of range');
  return Number(v);
}

/** `{1: iteration, 2: 32-byte key}`: both the chain key and a skipped message key. */
function decodeKeyAt(bytes: Uint8Array, what: string): { iteration: number; key: Uint8Array } {
  const r = new ProtoReader(bytes);
  let iteration = 0;
  let key: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      iteration = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      key = r.bytes();
    } else r.skip(h.wireType);
  }
  if (key === undefined || key.length !== CHAIN_KEY_LENGTH) throw new DecodeError(`${what} must be 32 bytes`);
  return { iteration, key };
}

function decodeSigning(bytes: Uint8Array, ours: boolean) {
  const r = new ProtoReader(bytes);
  let pub: Uint8Array | undefined;
  let priv: Uint8Array | undefined;
  let edSeed: Uint8Array | undefined;
  let edSignBit = 0;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      pub = r.bytes();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      priv = r.bytes();
    } else if (ours && h.field === 3) {
      r.expect(h, WireType.LengthDelimited);
      edSeed = r.bytes();
    } else if (ours && h.field === 4) {
      r.expect(h, WireType.Varint);
      edSignBit = r.uint32();
    } else r.skip(h.wireType);
  }
  if (pub === undefined) throw new DecodeError('sender key state has no signing key');
  const signingPublic = PublicKey.deserialize(pub);
  // proto3: an empty private key is "absent" (a receiver's state).
  if (priv !== undefined && priv.length === 0) priv = undefined;
  if (priv !== undefined && priv.length !== 32)
    throw new DecodeError('sender key private key must be 32 bytes');
  if (edSeed !== undefined && edSeed.length === 0) edSeed = undefined;
  if (edSeed !== undefined && (edSeed.length !== 32 || priv === undefined)) {
    throw new DecodeError('sender key signing seed is malformed');
  }
  if (edSignBit > 1) throw new DecodeError('sender key signing sign bit is malformed');
  return { signingPublic, signingPrivate: priv, edSeed, edSignBit };
}

export function decodeState(bytes: Uint8Array, ours: boolean): SenderKeyStateData {
  const r = new ProtoReader(bytes);
  let chainId = 0;
  let chain: { iteration: number; key: Uint8Array } | undefined;
  let signing: ReturnType<typeof decodeSigning> | undefined;
  const skipped: SkippedKey[] = [];
  let messageVersion = 0;
  let supersededAt = 0;
  let createdAt = 0;
  let holders: Uint8Array | undefined;
  let rotation: RotationReason | undefined;
  for (let h = r.next(); h; h = r.next()) {
    switch (h.field) {
      case 1:
        r.expect(h, WireType.Varint);
        chainId = r.uint32();
        break;
      case 2:
        r.expect(h, WireType.LengthDelimited);
        chain = decodeKeyAt(r.bytes(), 'sender chain key');
        break;
      case 3:
        r.expect(h, WireType.LengthDelimited);
        signing = decodeSigning(r.bytes(), ours);
        break;
      case 4:
        r.expect(h, WireType.LengthDelimited);
        if (skipped.length >= MAX_MESSAGE_KEYS) throw new DecodeError('too many skipped message keys');
        {
          const k = decodeKeyAt(r.bytes(), 'skipped message key');
          skipped.push({ iteration: k.iteration, seed: k.key });
        }
        break;
      case 5:
        r.expect(h, WireType.Varint);
        messageVersion = r.uint32();
        break;
      default:
        if (ours && h.field === 6) {
          r.expect(h, WireType.Varint);
          supersededAt = readSafeUint64(r);
        } else if (ours && h.field === 7) {
          r.expect(h, WireType.Varint);
          createdAt = readSafeUint64(r);
        } else if (ours && h.field === 8) {
          r.expect(h, WireType.LengthDelimited);
          holders = r.bytes();
          if (holders.length > MAX_RECORD_HOLDERS_BYTES) throw new DecodeError('key holder list too long');
        } else if (ours && h.field === 9) {
          r.expect(h, WireType.Varint);
          rotation = ROTATION_REASONS[r.uint32() - 1];
          if (rotation === undefined) throw new DecodeError('sender key rotation reason is malformed');
        } else r.skip(h.wireType);
    }
  }
  if (chain === undefined) throw new DecodeError('sender key state has no chain key');
  if (signing === undefined) throw new DecodeError('sender key state has no signing key');
  return {
    chainId,
    messageVersion,
    iteration: chain.iteration,
    chainKey: chain.key,
    ...signing,
    skipped,
    supersededAt,
    createdAt,
    holders,
    rotation,
  };
}
