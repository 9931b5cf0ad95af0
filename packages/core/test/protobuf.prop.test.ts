// fast-check properties for the protobuf codec and the standalone varint.
import { DecodeError, decodeVarint, encodeVarint, ProtoReader, ProtoWriter, WireType } from '@e2ee-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const runs = { numRuns: 400 };

type Field =
  | { field: number; kind: 'uint32'; value: number }
  | { field: number; kind: 'uint64'; value: bigint }
  | { field: number; kind: 'bool'; value: boolean }
  | { field: number; kind: 'bytes'; value: Uint8Array }
  | { field: number; kind: 'string'; value: string }
  | { field: number; kind: 'fixed32'; value: number }
  | { field: number; kind: 'fixed64'; value: bigint };

const fieldNo = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 0x1fffffff }));
const arbField: fc.Arbitrary<Field> = fc.oneof(
  fc.record({
    field: fieldNo,
    kind: fc.constant('uint32' as const),
    value: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({
    field: fieldNo,
    kind: fc.constant('uint64' as const),
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  }),
  fc.record({ field: fieldNo, kind: fc.constant('bool' as const), value: fc.boolean() }),
  fc.record({
    field: fieldNo,
    kind: fc.constant('bytes' as const),
    value: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    field: fieldNo,
    kind: fc.constant('string' as const),
    value: fc.string({ unit: 'grapheme', maxLength: 40 }),
  }),
  fc.record({
    field: fieldNo,
    kind: fc.constant('fixed32' as const),
    value: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({
    field: fieldNo,
    kind: fc.constant('fixed64' as const),
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  }),
);

function write(w: ProtoWriter, f: Field): ProtoWriter {
  switch (f.kind) {
    case 'uint32':
      return w.uint32(f.field, f.value);
    case 'uint64':
      return w.uint64(f.field, f.value);
    case 'bool':
      return w.bool(f.field, f.value);
    case 'bytes':
      return w.bytes(f.field, f.value);
    case 'string':
      return w.string(f.field, f.value);
    case 'fixed32':
      return w.fixed32(f.field, f.value);
    case 'fixed64':
      return w.fixed64(f.field, f.value);
  }
}

const encode = (fields: readonly Field[]) => fields.reduce(write, new ProtoWriter()).finish();

/** Decodes with the schema the fields were written with (the kinds, in order). */
function decode(bytes: Uint8Array, schema: readonly Field[]): Field[] {
  const r = new ProtoReader(bytes);
  const out: Field[] = [];
  for (let h = r.next(), i = 0; h; h = r.next(), i++) {
    const s = schema[i];
    if (!s || s.field !== h.field) throw new Error('schema mismatch');
    switch (s.kind) {
      case 'uint32':
        r.expect(h, WireType.Varint);
        out.push({ field: h.field, kind: s.kind, value: r.uint32() });
        break;
      case 'uint64':
        r.expect(h, WireType.Varint);
        out.push({ field: h.field, kind: s.kind, value: r.uint64() });
        break;
      case 'bool':
        r.expect(h, WireType.Varint);
        out.push({ field: h.field, kind: s.kind, value: r.bool() });
        break;
      case 'bytes':
        r.expect(h, WireType.LengthDelimited);
        out.push({ field: h.field, kind: s.kind, value: r.bytes() });
        break;
      case 'string':
        r.expect(h, WireType.LengthDelimited);
        out.push({ field: h.field, kind: s.kind, value: r.string() });
        break;
      case 'fixed32':
        r.expect(h, WireType.Fixed32);
        out.push({ field: h.field, kind: s.kind, value: r.fixed32() });
        break;
      case 'fixed64':
        r.expect(h, WireType.Fixed64);
        out.push({ field: h.field, kind: s.kind, value: r.fixed64() });
        break;
    }
  }
  return out;
}

/** Reads anything generically, as a decoder of unknown input would; returns the bytes it handed out. */
function readAll(bytes: Uint8Array): number {
  const r = new ProtoReader(bytes);
  let handedOut = 0;
  let guard = 0;
  for (let h = r.next(); h; h = r.next()) {
    if (++guard > bytes.length) throw new Error('reader did not advance');
    if (h.wireType === WireType.LengthDelimited) handedOut += r.bytes().length;
    else if (h.wireType === WireType.Varint && h.field % 2 === 0) r.uint32();
    else if (h.wireType === WireType.Fixed64 && h.field % 2 === 0) r.fixed64();
    else r.skip(h.wireType);
  }
  expect(r.done).toBe(true);
  expect(r.remaining).toBe(0);
  return handedOut;
}

function onlyDecodeErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof DecodeError) return true;
    throw e;
  }
}

describe('protobuf codec properties', () => {
  it('decode(encode(x)) = x for any sequence of fields', () => {
    fc.assert(
      fc.property(fc.array(arbField, { maxLength: 12 }), (fields) => {
        expect(decode(encode(fields), fields)).toEqual(fields);
      }),
      runs,
    );
  });

  it('encoding is the standard wire format (checked against a generic skip-everything reader)', () => {
    fc.assert(
      fc.property(fc.array(arbField, { maxLength: 12 }), (fields) => {
        const bytes = encode(fields);
        const lengthDelimited = fields.flatMap((f) =>
          f.kind === 'bytes'
            ? [f.value.length]
            : f.kind === 'string'
              ? [new TextEncoder().encode(f.value).length]
              : [],
        );
        const r = new ProtoReader(bytes);
        let n = 0;
        for (let h = r.next(); h; h = r.next()) {
          if (h.wireType === WireType.LengthDelimited) expect(r.bytes().length).toBe(lengthDelimited[n++]);
          else r.skip(h.wireType);
        }
        expect(n).toBe(lengthDelimited.length);
      }),
      runs,
    );
  });

  it('every cut of a valid message inside a field is a DecodeError; a cut on a boundary is the prefix', () => {
    fc.assert(
      fc.property(fc.array(arbField, { minLength: 1, maxLength: 6 }), fc.nat(), (fields, cutSeed) => {
        const bytes = encode(fields);
        const boundaries = new Map<number, number>();
        for (let i = 0; i <= fields.length; i++) boundaries.set(encode(fields.slice(0, i)).length, i);
        const cut = cutSeed % (bytes.length + 1);
        const prefix = bytes.subarray(0, cut);
        const n = boundaries.get(cut);
        if (n !== undefined) expect(decode(prefix, fields)).toEqual(fields.slice(0, n));
        else expect(() => decode(prefix, fields)).toThrow(DecodeError);
      }),
      runs,
    );
  });

  it('random bytes never throw anything but DecodeError, never hang, never hand out more than the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) =>
        onlyDecodeErrors(() => {
          expect(readAll(bytes)).toBeLessThanOrEqual(bytes.length);
        }),
      ),
      { numRuns: 2000 },
    );
  });

  it('typed reads on random bytes (uint32, uint64, bool, string, fixed32, fixed64, bytes) only throw DecodeError', () => {
    const reads = ['uint32', 'uint64', 'bool', 'string', 'fixed32', 'fixed64', 'bytes', 'next'] as const;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.constantFrom(...reads), { maxLength: 10 }),
        (bytes, ops) =>
          onlyDecodeErrors(() => {
            const r = new ProtoReader(bytes);
            for (const op of ops) r[op]();
          }),
      ),
      { numRuns: 2000 },
    );
  });

  it('a length prefix larger than the rest of the input is refused before any allocation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 20 }),
        (claimed, rest) => {
          fc.pre(claimed > rest.length);
          const bytes = Uint8Array.of(0x0a, ...encodeVarint(claimed), ...rest);
          const r = new ProtoReader(bytes);
          r.next();
          expect(() => r.bytes()).toThrow(DecodeError);
        },
      ),
      runs,
    );
  });

  it('encodeVarint/decodeVarint round-trip every safe integer and match the protobuf writer', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.uint8Array({ maxLength: 4 }), (n, pad) => {
        const v = encodeVarint(n);
        const withPad = Uint8Array.of(...pad, ...v, 0xff);
        expect(decodeVarint(withPad, pad.length)).toEqual({ value: n, next: pad.length + v.length });
        const viaWriter = new ProtoWriter().uint64(1, n).finish();
        expect([...viaWriter.subarray(1)]).toEqual([...v]);
      }),
      runs,
    );
  });

  it('decodeVarint on random bytes returns a safe integer or throws DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) =>
        onlyDecodeErrors(() => {
          const { value, next } = decodeVarint(bytes);
          expect(Number.isSafeInteger(value)).toBe(true);
          expect(next).toBeLessThanOrEqual(bytes.length);
        }),
      ),
      { numRuns: 2000 },
    );
  });
});

describe('protobuf codec edge cases', () => {
  it('refuses unended and unopened groups, field 0, over-long and overflowing varints, out-of-range uint32/bool', () => {
    const bad: Array<[string, Uint8Array, (r: ProtoReader) => unknown]> = [
      ['group start never ended', Uint8Array.of(0x0b), (r) => r.skip(r.next()!.wireType)],
      ['group end', Uint8Array.of(0x0c), (r) => r.next()],
      ['wire type 6', Uint8Array.of(0x0e), (r) => r.next()],
      ['field 0', Uint8Array.of(0x00, 0x01), (r) => r.next()],
      ['varint of 11 bytes', Uint8Array.of(...new Array(10).fill(0x80), 0x01), (r) => r.uint64()],
      ['varint over 64 bits', Uint8Array.of(...new Array(9).fill(0xff), 0x02), (r) => r.uint64()],
      ['uint32 of 2^32', encodeVarint(2 ** 32), (r) => r.uint32()],
      ['bool of 2', Uint8Array.of(2), (r) => r.bool()],
      ['invalid UTF-8', Uint8Array.of(1, 0xff), (r) => r.string()],
      ['truncated fixed64', Uint8Array.of(1, 2, 3, 4, 5, 6, 7), (r) => r.fixed64()],
      ['field number over 2^29-1', Uint8Array.of(...encodeVarint(2 ** 29 * 8), 0), (r) => r.next()],
    ];
    for (const [what, bytes, read] of bad)
      expect(() => read(new ProtoReader(bytes)), what).toThrow(DecodeError);
    // The largest 64-bit value is accepted.
    expect(new ProtoReader(Uint8Array.of(...new Array(9).fill(0xff), 0x01)).uint64()).toBe(2n ** 64n - 1n);
    // expect() reports a wire-type mismatch as a DecodeError.
    const r = new ProtoReader(new ProtoWriter().uint32(3, 1).finish());
    const h = r.next()!;
    expect(() => r.expect(h, WireType.LengthDelimited)).toThrow(DecodeError);
  });

  it('bytes() returns a copy that does not alias the input', () => {
    const input = new ProtoWriter().bytes(1, Uint8Array.of(1, 2, 3)).finish();
    const r = new ProtoReader(input);
    r.next();
    const out = r.bytes();
    out[0] = 99;
    expect(input[2]).toBe(1);
  });

  it('the writer refuses values that do not fit', () => {
    const w = new ProtoWriter();
    expect(() => w.uint32(1, -1)).toThrow(RangeError);
    expect(() => w.uint32(1, 2 ** 32)).toThrow(RangeError);
    expect(() => w.uint64(1, -1n)).toThrow(RangeError);
    expect(() => w.uint64(1, 2n ** 64n)).toThrow(RangeError);
    expect(() => w.uint64(1, 2 ** 53)).toThrow(RangeError);
    expect(() => w.fixed32(1, 1.5)).toThrow(RangeError);
    expect(() => w.fixed64(1, 1 as never)).toThrow(RangeError);
    expect(() => w.uint32(0, 1)).toThrow(RangeError);
    expect(() => w.uint32(2 ** 29, 1)).toThrow(RangeError);
    expect(() => w.bool(1, 1 as never)).toThrow(TypeError);
    expect(() => w.string(1, 1 as never)).toThrow(TypeError);
    expect(() => w.bytes(1, [1] as never)).toThrow(TypeError);
    expect(() => encodeVarint(-1)).toThrow(RangeError);
    expect(() => encodeVarint(2 ** 53)).toThrow(RangeError);
    expect(w.finish().length).toBe(0); // nothing half-written
  });
});

/**
 * Independent reference for the reader's number reads (the protobuf encoding spec, exact BigInt
 * arithmetic): the reader's number-typed varints must take every decision and throw every error as
 * the exact value would.
 */
function referenceRead(
  bytes: Uint8Array,
  op: 'next' | 'uint32' | 'uint32Truncated' | 'bool' | 'bytes' | 'skip',
): unknown {
  let pos = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw new DecodeError('protobuf varint truncated');
      const byte = bytes[pos++] as number;
      if (i === 9 && byte > 1) throw new DecodeError('protobuf varint overflows 64 bits');
      v |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) return v;
    }
    throw new DecodeError('protobuf varint too long');
  };
  switch (op) {
    case 'next': {
      if (bytes.length === 0) return undefined;
      const key = varint();
      const field = key >> 3n;
      const wireType = Number(key & 7n);
      if (field === 0n || field > 0x1fffffffn) throw new DecodeError('invalid protobuf field number');
      if (wireType > 5) throw new DecodeError('unsupported protobuf wire type');
      // A group start is handed over (for skip()); an end-group with no start is refused, as prost does.
      if (wireType === 4) throw new DecodeError('protobuf end-group without a start');
      return { field: Number(field), wireType };
    }
    case 'uint32': {
      const v = varint();
      if (v >= 2n ** 32n) throw new DecodeError('protobuf uint32 out of range');
      return Number(v);
    }
    case 'uint32Truncated':
      return Number(varint() % 2n ** 32n); // prost: `value as u32`
    case 'bool': {
      const v = varint();
      if (v > 1n) throw new DecodeError('protobuf bool out of range');
      return v === 1n;
    }
    case 'bytes': {
      const len = varint();
      if (len > BigInt(bytes.length - pos)) throw new DecodeError('protobuf length exceeds input');
      return Array.from(bytes.subarray(pos, pos + Number(len)));
    }
    case 'skip':
      varint();
      return pos;
  }
}

function readerRead(
  bytes: Uint8Array,
  op: 'next' | 'uint32' | 'uint32Truncated' | 'bool' | 'bytes' | 'skip',
): unknown {
  const r = new ProtoReader(bytes);
  switch (op) {
    case 'next':
      return r.next();
    case 'uint32':
      return r.uint32();
    case 'uint32Truncated':
      return r.uint32Truncated();
    case 'bool':
      return r.bool();
    case 'bytes':
      return Array.from(r.bytes());
    case 'skip':
      r.skip(WireType.Varint);
      return bytes.length - r.remaining;
  }
}

const outcome = (f: () => unknown): unknown => {
  try {
    return { ok: f() };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { error: e.message };
  }
};

describe('ProtoReader number reads against an exact BigInt reference', () => {
  // Varint-heavy bytes: continuation bits set more often than in uniform noise, so long, overlong,
  // overflowing and just-in-range (2^32 − 1, 2^53 ±, 2^64 − 1) varints all occur.
  const varintByte = fc.oneof(
    fc.integer({ min: 0x80, max: 0xff }),
    fc.integer({ min: 0, max: 0x7f }),
    fc.constantFrom(0x00, 0x01, 0x02, 0x0f, 0x10, 0x7f, 0x80, 0xff),
  );
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 16 }),
    fc.array(varintByte, { maxLength: 16 }).map((a) => Uint8Array.from(a)),
  );
  const edge = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.constantFrom(
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 53n + 1n,
      2n ** 64n - 1n,
      0x1fffffffn * 8n + 7n,
      0x20000000n * 8n,
    ),
  );
  const ops = fc.constantFrom('next', 'uint32', 'uint32Truncated', 'bool', 'bytes', 'skip') as fc.Arbitrary<
    'next' | 'uint32' | 'uint32Truncated' | 'bool' | 'bytes' | 'skip'
  >;

  it('same value or same DecodeError for random and varint-heavy bytes', () => {
    fc.assert(
      fc.property(input, ops, (bytes, op) => {
        expect(outcome(() => readerRead(bytes, op))).toEqual(outcome(() => referenceRead(bytes, op)));
      }),
      { numRuns: 3000 },
    );
  });

  it('same value or same DecodeError for every 64-bit varint, with trailing bytes', () => {
    fc.assert(
      fc.property(edge, fc.uint8Array({ maxLength: 8 }), ops, (v, tail, op) => {
        const bytes = new Uint8Array([...new ProtoWriter().uint64(1, v).finish().subarray(1), ...tail]);
        expect(outcome(() => readerRead(bytes, op))).toEqual(outcome(() => referenceRead(bytes, op)));
      }),
      { numRuns: 2000 },
    );
  });
});
