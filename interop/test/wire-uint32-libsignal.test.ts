// uint32 fields written as wider varints, decided as libsignal-client 0.103.0 decides them: prost reads
// a `uint32` field as a 64-bit varint and keeps its low 32 bits (`value as u32`), and a repeated
// scalar keeps its last occurrence. No libsignal encoder writes such a varint, but any protobuf
// encoder may, so the same bytes must give the same fields (or the same refusal) on both sides.
// Each case's expected value is also written down from prost's rules.
import { DecryptionErrorMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { lib103 as L } from '../src/libsignal.js';

/** A varint of exactly the bytes given as 7-bit groups (low group first), padded with continuations. */
function varint(value: bigint, width?: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    out.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  while (width !== undefined && out.length < width) out.push(0);
  return out.map((b, i) => (i < out.length - 1 ? b | 0x80 : b));
}

/** Encodings of a uint32 field value and what prost reads from each (undefined: refused). */
const ENCODINGS: Array<[string, number[], number | undefined]> = [
  ['7', varint(7n), 7],
  ['2^32 + 7', varint((1n << 32n) + 7n), 7],
  ['2^32', varint(1n << 32n), 0],
  ['2^64 − 1', varint((1n << 64n) - 1n), 0xffff_ffff],
  ['7 padded to 10 bytes', varint(7n, 10), 7],
  ['7 padded to 11 bytes', varint(7n, 11), undefined],
  [
    '10th byte 2 (overflows 64 bits)',
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02],
    undefined,
  ],
];

function decide<T>(f: () => T): T | 'refused' {
  try {
    return f();
  } catch {
    return 'refused';
  }
}

describe('uint32 varints wider than 32 bits: our decisions are libsignal 0.103.0 (prost) decisions', () => {
  // DecryptionErrorMessage { 1: ratchet_key bytes, 2: timestamp uint64, 3: device_id uint32 }
  it.each(ENCODINGS)('DecryptionErrorMessage device id %s', (_what, encoded, expected) => {
    const bytes = Uint8Array.from([0x10, ...varint(1_700_000_000_000n), 0x18, ...encoded]);
    const theirs = decide(() => L.DecryptionErrorMessage.deserialize(bytes).deviceId());
    const ours = decide(() => DecryptionErrorMessage.deserialize(bytes).deviceId);
    expect(theirs, 'libsignal').toBe(expected ?? 'refused');
    expect(ours, 'ours').toBe(expected ?? 'refused');
  });

  it('a repeated device id keeps the last occurrence on both sides', () => {
    const bytes = Uint8Array.from([0x10, 0x01, 0x18, 0x05, 0x18, ...varint((1n << 33n) + 9n)]);
    expect(L.DecryptionErrorMessage.deserialize(bytes).deviceId()).toBe(9);
    expect(DecryptionErrorMessage.deserialize(bytes).deviceId).toBe(9);
  });
});
