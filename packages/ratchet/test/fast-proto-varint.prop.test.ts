// FastReader's varints against an exact BigInt model of prost's rules (prost `decode_varint` and a
// uint32 field's `value as u32`): up to ten bytes, the tenth at most 1, a uint32 keeps the low 32 bits.
import { DecodeError } from '@e2ee-kit/core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { FastReader } from '../src/records/fast-proto.js';

/** prost's decision on a varint at the start of `bytes`: its u64 value, or undefined when refused. */
function prostVarint(bytes: Uint8Array): bigint | undefined {
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    if (i >= bytes.length) return undefined;
    const byte = bytes[i] as number;
    if (i === 9 && byte > 1) return undefined;
    v |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) return v;
  }
  return undefined;
}

const varintByte = fc.oneof(
  fc.integer({ min: 0x80, max: 0xff }),
  fc.integer({ min: 0, max: 0x7f }),
  fc.constantFrom(0x00, 0x01, 0x02, 0x0f, 0x10, 0x7f, 0x80, 0xff),
);
const input = fc.array(varintByte, { maxLength: 12 }).map((a) => Uint8Array.from(a));

it('a uint32 field reads the low 32 bits of any varint prost accepts, and refuses what prost refuses', () => {
  fc.assert(
    fc.property(input, (value) => {
      // Field 1, varint: key 0x08 then the value under test.
      const r = new FastReader(Uint8Array.from([0x08, ...value]));
      expect(r.next()).toBe(true);
      const expected = prostVarint(value);
      if (expected === undefined) expect(() => r.uint32()).toThrow(DecodeError);
      else expect(r.uint32()).toBe(Number(expected & 0xffff_ffffn));
    }),
    { numRuns: 2000 },
  );
});

it('edge values: 2^28 − 1 / 2^28 (the fast path ends), 2^32 ± 1, 2^53 ± 1, 2^64 − 1', () => {
  const enc = (v: bigint): number[] => {
    const out: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v > 0n ? low | 0x80 : low);
    } while (v > 0n);
    return out;
  };
  for (const v of [
    2n ** 28n - 1n,
    2n ** 28n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 32n + 1n,
    2n ** 53n - 1n,
    2n ** 53n + 1n,
    2n ** 64n - 1n,
  ]) {
    const r = new FastReader(Uint8Array.from([0x08, ...enc(v)]));
    r.next();
    expect(r.uint32(), String(v)).toBe(Number(v & 0xffff_ffffn));
  }
});
