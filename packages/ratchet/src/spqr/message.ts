/**
 * The `pq_ratchet` field (SignalMessage field 5), spec `spqr.md` §1.1:
 * `version(1) ‖ varint epoch ‖ varint index ‖ type(1) ‖ [varint chunk index ‖ 32 data bytes]`.
 * Trailing bytes are ignored (libsignal allows them for future upgrades).
 */
import { decodeVarint } from '@e2ee-kit/core';
import { CHUNK_DATA_LENGTH, type Chunk } from './erasure.js';
import { messageDecodeError } from './errors.js';

export const SPQR_VERSION_V1 = 1;

export const PayloadType = { None: 0, Hdr: 1, Ek: 2, EkCt1Ack: 3, Ct1Ack: 4, Ct1: 5, Ct2: 6 } as const;
export type PayloadType = (typeof PayloadType)[keyof typeof PayloadType];

/** A parsed V1 message. `chunk` is present exactly for Hdr, Ek, EkCt1Ack, Ct1 and Ct2. */
export interface SpqrMessage {
  /** The sender's SCKA epoch (≥ 1); its key comes from chain epoch `epoch − 1`. */
  readonly epoch: number;
  /** The sender's chain counter (u32); 0 means "no key" (only valid at epoch 1). */
  readonly index: number;
  readonly type: PayloadType;
  readonly chunk?: Chunk;
}

export function hasChunk(type: PayloadType): boolean {
  return type !== PayloadType.None && type !== PayloadType.Ct1Ack;
}

function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

export function serializeSpqrMessage(msg: SpqrMessage): Uint8Array {
  if (!Number.isSafeInteger(msg.epoch) || msg.epoch < 1) throw new RangeError('epoch must be ≥ 1');
  if (!Number.isInteger(msg.index) || msg.index < 0 || msg.index > 0xffff_ffff)
    throw new RangeError('index must be a u32');
  const out: number[] = [SPQR_VERSION_V1];
  pushVarint(out, msg.epoch);
  pushVarint(out, msg.index);
  out.push(msg.type);
  if (hasChunk(msg.type)) {
    const c = msg.chunk;
    if (
      !c ||
      !Number.isInteger(c.index) ||
      c.index < 0 ||
      c.index > 0xffff ||
      c.data.length !== CHUNK_DATA_LENGTH
    )
      throw new RangeError('this payload type needs a chunk (u16 index, 32 bytes)');
    pushVarint(out, c.index);
    const bytes = Uint8Array.from(out);
    const res = new Uint8Array(bytes.length + CHUNK_DATA_LENGTH);
    res.set(bytes);
    res.set(c.data, bytes.length);
    return res;
  }
  return Uint8Array.from(out);
}

/**
 * LEB128 through core's decoder (≤ 8 bytes, ≤ 2^53). libsignal reads up to 10 bytes, but no value it
 * could accept needs more than 5 (index: u32, chunk: u16; an epoch beyond 2^53 is out of every range).
 */
function readVarint(b: Uint8Array, at: number): { value: number; next: number } {
  if (at >= b.length) throw messageDecodeError('message truncated');
  try {
    return decodeVarint(b, at);
  } catch {
    throw messageDecodeError('varint malformed');
  }
}

/**
 * Parses a V1 `pq_ratchet` value (first byte 0x01). Never keeps a view of `bytes`. Malformed input →
 * `DecodeError` with code `SPQR_MESSAGE_DECODE`.
 */
export function parseSpqrMessage(bytes: Uint8Array): SpqrMessage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('pq_ratchet must be a Uint8Array');
  if (bytes.length === 0 || bytes[0] !== SPQR_VERSION_V1) throw messageDecodeError('not a V1 message');
  const epoch = readVarint(bytes, 1);
  if (epoch.value === 0) throw messageDecodeError('epoch 0');
  const index = readVarint(bytes, epoch.next);
  if (index.value > 0xffff_ffff) throw messageDecodeError('index out of range');
  if (index.next >= bytes.length) throw messageDecodeError('message truncated');
  const type = bytes[index.next] as number;
  if (type > 6) throw messageDecodeError('unknown payload type');
  const t = type as PayloadType;
  if (!hasChunk(t)) return { epoch: epoch.value, index: index.value, type: t };
  const ci = readVarint(bytes, index.next + 1);
  if (ci.value > 0xffff) throw messageDecodeError('chunk index out of range');
  if (ci.next + CHUNK_DATA_LENGTH > bytes.length) throw messageDecodeError('chunk truncated');
  const data = bytes.slice(ci.next, ci.next + CHUNK_DATA_LENGTH);
  return { epoch: epoch.value, index: index.value, type: t, chunk: { index: ci.value, data } };
}
