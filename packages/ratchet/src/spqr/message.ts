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

function varintLength(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** LEB128 of `value` at `out[at]`; returns the index after it. */
function writeVarint(out: Uint8Array, at: number, value: number): number {
  let v = value;
  let i = at;
  while (v >= 0x80) {
    out[i++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[i++] = v;
  return i;
}

/** Written straight into one array of the exact length (one is made per message sent). */
export function serializeSpqrMessage(msg: SpqrMessage): Uint8Array {
  if (!Number.isSafeInteger(msg.epoch) || msg.epoch < 1) throw new RangeError('epoch must be ≥ 1');
  if (!Number.isInteger(msg.index) || msg.index < 0 || msg.index > 0xffff_ffff)
    throw new RangeError('index must be a u32');
  const c = hasChunk(msg.type) ? msg.chunk : undefined;
  if (
    hasChunk(msg.type) &&
    (!c ||
      !Number.isInteger(c.index) ||
      c.index < 0 ||
      c.index > 0xffff ||
      c.data.length !== CHUNK_DATA_LENGTH)
  )
    throw new RangeError('this payload type needs a chunk (u16 index, 32 bytes)');
  const head = 1 + varintLength(msg.epoch) + varintLength(msg.index) + 1;
  const out = new Uint8Array(head + (c ? varintLength(c.index) + CHUNK_DATA_LENGTH : 0));
  out[0] = SPQR_VERSION_V1;
  let at = writeVarint(out, 1, msg.epoch);
  at = writeVarint(out, at, msg.index);
  out[at++] = msg.type;
  if (c) out.set(c.data, writeVarint(out, at, c.index));
  return out;
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
