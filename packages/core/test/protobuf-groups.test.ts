// Unknown groups (wire types 3/4) are skipped as prost's `skip_field` skips them, since libsignal reads
// every wire message with prost: a group is walked to the end-group of the same field number, nested
// groups count against prost's RECURSION_LIMIT (100), and an end-group that is mismatched, unopened or
// missing is a DecodeError. Expected outcomes are prost's (encoding/src/lib.rs, `skip_field`), written
// by hand from the protobuf encoding spec: tag = field << 3 | wire type.
import { DecodeError, ProtoReader, ProtoWriter, WireType } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

const start = (field: number) => field * 8 + 3; // one byte for fields 1..15
const end = (field: number) => field * 8 + 4;

/** Reads a message whose only known field is 1 (uint32); everything else is skipped as unknown. */
function readField1(bytes: Uint8Array): number | undefined {
  const r = new ProtoReader(bytes);
  let value: number | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      value = r.uint32();
    } else r.skip(h.wireType);
  }
  return value;
}

/** `depth` groups of field 9 nested in one another, with `inner` bytes in the innermost. */
function nested(depth: number, inner: number[] = []): number[] {
  return [...new Array(depth).fill(start(9)), ...inner, ...new Array(depth).fill(end(9))];
}

describe('ProtoReader: unknown groups as prost skips them', () => {
  it('an empty unknown group is skipped and the fields after it are read', () => {
    expect(readField1(Uint8Array.of(start(9), end(9), 0x08, 0x05))).toBe(5);
    expect(readField1(Uint8Array.of(0x08, 0x05, start(9), end(9)))).toBe(5);
  });

  it('a group holding every wire type, a nested group and a same-numbered group is skipped whole', () => {
    const group = [
      start(9),
      0x08, 0x01, // field 1 varint inside the group: not the message's field 1
      0x11, 1, 2, 3, 4, 5, 6, 7, 8, // fixed64
      0x1a, 0x02, 0xaa, 0xbb, // length-delimited
      0x25, 1, 2, 3, 4, // fixed32
      start(10), 0x08, 0x02, end(10), // a nested group of another field
      start(9), end(9), // a nested group of the same field number
      end(9),
    ]; // biome-ignore format: byte layout
    expect(readField1(Uint8Array.of(...group, 0x08, 0x07))).toBe(7);
    // A multi-byte tag (field 2000) opens and closes a group as a one-byte tag does.
    const big = new ProtoWriter().uint32(2000, 0).finish().subarray(0, 2); // key varint of field 2000, wt 0
    const bigStart = Uint8Array.of((big[0] as number) | 3, big[1] as number);
    const bigEnd = Uint8Array.of((big[0] as number) | 4, big[1] as number);
    expect(readField1(Uint8Array.of(...bigStart, 0x08, 0x03, ...bigEnd, 0x08, 0x04))).toBe(4);
  });

  it('refuses an end-group of another field, an end-group with no start, and a group never ended', () => {
    const bad: Array<[string, number[]]> = [
      ['mismatched end-group', [start(9), end(10)]],
      ['mismatched end-group after nesting', [start(9), start(10), end(9), end(9)]],
      ['end-group at top level', [end(9)]],
      ['end-group after a closed group', [start(9), end(9), end(9)]],
      ['group never ended', [start(9), 0x08, 0x01]],
      ['group holding a truncated field', [start(9), 0x1a, 0x05, 0x01, end(9)]],
      ['group holding wire type 6', [start(9), 0x0e, end(9)]],
      ['group holding wire type 7', [start(9), 0x0f, end(9)]],
      ['group holding field 0', [start(9), 0x00, 0x00, end(9)]],
    ];
    for (const [what, bytes] of bad)
      expect(() => readField1(Uint8Array.from(bytes)), what).toThrow(DecodeError);
  });

  it('nesting: 100 groups deep is skipped, a field inside the 100th or a 101st group is refused (RECURSION_LIMIT)', () => {
    // prost: skip_field of a top-level field runs with 100 levels left; each group's contents run with
    // one fewer, and a skip_field called with none left fails.
    expect(readField1(Uint8Array.from([...nested(100), 0x08, 0x01]))).toBe(1);
    expect(readField1(Uint8Array.from([...nested(99, [0x08, 0x01]), 0x08, 0x02]))).toBe(2);
    expect(() => readField1(Uint8Array.from(nested(100, [0x08, 0x01])))).toThrow(DecodeError);
    expect(() => readField1(Uint8Array.from(nested(101)))).toThrow(DecodeError);
    expect(() => readField1(Uint8Array.from(nested(5000)))).toThrow(DecodeError);
  });

  it('bounded work: a long run of sibling groups inside one group is skipped in one pass', () => {
    const siblings = new Array(50_000).fill([start(10), end(10)]).flat();
    expect(readField1(Uint8Array.from([start(9), ...siblings, end(9), 0x08, 0x09]))).toBe(9);
  });

  it('a group header is a wire-type mismatch for a known field, and no typed read consumes it', () => {
    const r = new ProtoReader(Uint8Array.of(start(1), end(1)));
    const h = r.next();
    expect(h).toEqual({ field: 1, wireType: WireType.StartGroup });
    for (const wt of [WireType.Varint, WireType.LengthDelimited, WireType.Fixed32, WireType.Fixed64])
      expect(() => r.expect(h!, wt)).toThrow(DecodeError);
    // A caller that forgets expect() must not read the group's contents as a value.
    const reads = ['uint32', 'uint64', 'bool', 'bytes', 'string', 'fixed32', 'fixed64', 'next'] as const;
    for (const read of reads) {
      const again = new ProtoReader(Uint8Array.of(start(1), 0x08, 0x01, end(1)));
      again.next();
      expect(() => again[read](), read).toThrow(DecodeError);
    }
    // skip() with another wire type than the pending group's is refused, not misread.
    const wrong = new ProtoReader(Uint8Array.of(start(1), 0x08, 0x01, end(1)));
    wrong.next();
    expect(() => wrong.skip(WireType.Varint)).toThrow(DecodeError);
    // skip(StartGroup) with no group header just read is refused.
    expect(() => new ProtoReader(Uint8Array.of(0x08, 0x01)).skip(WireType.StartGroup)).toThrow(DecodeError);
  });
});
