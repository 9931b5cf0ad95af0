// Retry receipts (issue 14, point 1): DecryptionErrorMessage and PlaintextContent reproduce every case
// of libsignal-client 0.103.0's vector file byte for byte, parse what it wrote, refuse malformed input
// with DecodeError only (a garbage run over every decoder), and never alias or write to caller bytes.
import { inspect } from 'node:util';
import { DecodeError, E2eeError, fromHex, toHex } from '@e2ee-kit/core';
import {
  DecryptionErrorMessage,
  FailedMessageType,
  MAX_PLAINTEXT_CONTENT_LENGTH,
  PlaintextContent,
} from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readVectorJson } from '../../../tools/vectors.js';

interface Case {
  originalType: FailedMessageType;
  originalBytes: string;
  timestamp: number;
  deviceId: number;
  dem: string;
  plaintextContent?: string;
}
const { cases } = readVectorJson<{ cases: Case[] }>('libsignal/decryption-error-message.json');

/** The ratchet key as the vector's DEM bytes carry it: field 1 (`0a 21`), 33 bytes. */
function ratchetKeyInVector(dem: string): string | undefined {
  return dem.startsWith('0a21') ? dem.slice(4, 4 + 66) : undefined;
}

describe('libsignal-client 0.103.0 vectors', () => {
  it('covers whisper, prekey and sender-key originals', () => {
    expect(cases.map((c) => c.originalType).sort()).toEqual([2, 3, 7]);
  });

  for (const c of cases) {
    describe(`original type ${c.originalType}`, () => {
      it('forOriginal writes libsignal’s bytes', () => {
        const dem = DecryptionErrorMessage.forOriginal(
          fromHex(c.originalBytes),
          c.originalType,
          c.timestamp,
          c.deviceId,
        );
        expect(toHex(dem.serialize())).toBe(c.dem);
        expect(dem.timestamp).toBe(c.timestamp);
        expect(dem.deviceId).toBe(c.deviceId);
        const key = ratchetKeyInVector(c.dem);
        expect(dem.ratchetKey === undefined ? undefined : toHex(dem.ratchetKey.serialize())).toBe(key);
        expect(c.originalType === FailedMessageType.SenderKey).toBe(key === undefined);
      });

      it('deserialize reads libsignal’s bytes and keeps them exactly', () => {
        const dem = DecryptionErrorMessage.deserialize(fromHex(c.dem));
        expect(dem.timestamp).toBe(c.timestamp);
        expect(dem.deviceId).toBe(c.deviceId);
        expect(dem.ratchetKey && toHex(dem.ratchetKey.serialize())).toBe(ratchetKeyInVector(c.dem));
        expect(toHex(dem.serialize())).toBe(c.dem);
      });

      if (c.plaintextContent !== undefined) {
        const pc = c.plaintextContent;
        it('PlaintextContent.from writes libsignal’s framing (0xC0 ‖ Content{8} ‖ 0x80)', () => {
          const dem = DecryptionErrorMessage.deserialize(fromHex(c.dem));
          expect(toHex(PlaintextContent.from(dem).serialize())).toBe(pc);
        });
        it('PlaintextContent.deserialize → body → DecryptionErrorMessage', () => {
          const content = PlaintextContent.deserialize(fromHex(pc));
          expect(toHex(content.body)).toBe(pc.slice(2));
          expect(toHex(content.serialize())).toBe(pc);
          expect(toHex(content.decryptionErrorMessage().serialize())).toBe(c.dem);
          const viaBody = DecryptionErrorMessage.extractFromSerializedBody(content.body);
          expect(toHex(viaBody.serialize())).toBe(c.dem);
        });
      }
    });
  }
});

describe('rules', () => {
  const whisper = cases.find((c) => c.originalType === 2)!;

  it('a plaintext original or an unknown type is a RangeError', () => {
    expect(() =>
      DecryptionErrorMessage.forOriginal(new Uint8Array(0), FailedMessageType.Plaintext, 5, 7),
    ).toThrow(RangeError);
    for (const t of [0, 1, 4, 5, 6, 9, 2.5])
      expect(() =>
        DecryptionErrorMessage.forOriginal(fromHex(whisper.originalBytes), t as FailedMessageType, 5, 1),
      ).toThrow(RangeError);
  });

  it('timestamps and device ids are checked', () => {
    const b = fromHex(whisper.originalBytes);
    expect(() => DecryptionErrorMessage.forOriginal(b, 2, -1, 1)).toThrow(RangeError);
    expect(() => DecryptionErrorMessage.forOriginal(b, 2, 1.5, 1)).toThrow(TypeError);
    expect(() => DecryptionErrorMessage.forOriginal(b, 2, 2 ** 53, 1)).toThrow(TypeError);
    expect(() => DecryptionErrorMessage.forOriginal(b, 2, 5, -1)).toThrow(RangeError);
    expect(() => DecryptionErrorMessage.forOriginal(b, 2, 5, 2 ** 32)).toThrow(RangeError);
    expect(() => DecryptionErrorMessage.forOriginal(b, 2, 5, '1' as unknown as number)).toThrow(TypeError);
    expect(() => DecryptionErrorMessage.forOriginal('x' as unknown as Uint8Array, 2, 5, 1)).toThrow(
      TypeError,
    );
    // the extremes libsignal also writes: zero and the largest 32-bit device id
    const dem = DecryptionErrorMessage.forOriginal(new Uint8Array(0), 7, 0, 0xffff_ffff);
    expect(toHex(dem.serialize())).toBe('100018ffffffff0f');
  });

  it('malformed whisper / prekey originals are a DecodeError (libsignal parses them too)', () => {
    for (const type of [2, 3] as const) {
      for (const bytes of [
        new Uint8Array(0),
        fromHex('44'),
        fromHex('14ffff'),
        fromHex(whisper.originalBytes).slice(0, 20),
      ])
        expect(() => DecryptionErrorMessage.forOriginal(bytes, type, 5, 1)).toThrow(DecodeError);
    }
  });

  it('deserialize: timestamp required, absent device id reads 0, unknown fields skipped, last field wins', () => {
    expect(() => DecryptionErrorMessage.deserialize(fromHex(''))).toThrow(DecodeError);
    expect(() => DecryptionErrorMessage.deserialize(fromHex('1801'))).toThrow(DecodeError);
    const minimal = DecryptionErrorMessage.deserialize(fromHex('1005'));
    expect([minimal.timestamp, minimal.deviceId, minimal.ratchetKey]).toEqual([5, 0, undefined]);
    const extra = DecryptionErrorMessage.deserialize(fromHex('2203abcdef10051803100728ff01'));
    expect([extra.timestamp, extra.deviceId]).toEqual([7, 3]);
    expect(toHex(extra.serialize())).toBe('2203abcdef10051803100728ff01');
  });

  it('deserialize refuses what libsignal never writes: a ratchet key of another length or type, a wrong wire type, a huge timestamp', () => {
    const key = ratchetKeyInVector(whisper.dem)!;
    for (const hex of [
      `0a22${key}00` + '1005', // 34-byte key
      `0a20${key.slice(2)}` + '1005', // 32 bytes
      `0a21${'06'}${key.slice(2)}` + '1005', // wrong type byte
      '0a001005', // empty key
      '15050000001805', // timestamp as fixed32
      '1005' + '1a0101', // device id as bytes
      '10ffffffffffffffff7f', // 2^63-1 ms
      '10808080808080808001', // 2^56 ms
    ])
      expect(() => DecryptionErrorMessage.deserialize(fromHex(hex)), hex).toThrow(DecodeError);
    const max = DecryptionErrorMessage.deserialize(fromHex('10ffffffffffffff0f'));
    expect(max.timestamp).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('a device id written as a varint wider than 32 bits keeps its low 32 bits, as prost reads it', () => {
    // 2^32 + 3: libsignal-client reads device id 3 (interop/test/wire-uint32-libsignal.test.ts).
    expect(DecryptionErrorMessage.deserialize(fromHex('1005' + '1883808080' + '10')).deviceId).toBe(3);
  });

  it('PlaintextContent: identifier byte, padding marker, a DecryptionErrorMessage inside, bounded length', () => {
    const pc = fromHex(whisper.plaintextContent!);
    expect(() => PlaintextContent.deserialize(new Uint8Array(0))).toThrow(DecodeError);
    expect(() => PlaintextContent.deserialize(Uint8Array.of(0x08, ...pc.subarray(1)))).toThrow(DecodeError);
    expect(() =>
      PlaintextContent.deserialize(new Uint8Array(MAX_PLAINTEXT_CONTENT_LENGTH + 1).fill(0xc0)),
    ).toThrow(DecodeError);
    // libsignal accepts any body after 0xC0; its content is checked when the message is taken out
    const noMarker = PlaintextContent.deserialize(pc.subarray(0, pc.length - 1));
    expect(() => noMarker.decryptionErrorMessage()).toThrow(DecodeError);
    const padded = PlaintextContent.deserialize(Uint8Array.of(...pc, 0x00));
    expect(() => padded.decryptionErrorMessage()).toThrow(DecodeError);
    const otherContent = PlaintextContent.deserialize(fromHex('c00a0100' + '80')); // data_message only
    expect(() => otherContent.decryptionErrorMessage()).toThrow(DecodeError);
    const wrongWire = PlaintextContent.deserialize(fromHex('c0400180'));
    expect(() => wrongWire.decryptionErrorMessage()).toThrow(DecodeError);
    // another Content field next to it is skipped, as prost does
    const withNull = PlaintextContent.deserialize(fromHex(`c0220100${whisper.plaintextContent!.slice(2)}`));
    expect(toHex(withNull.decryptionErrorMessage().serialize())).toBe(whisper.dem);
    expect(() => PlaintextContent.from({} as DecryptionErrorMessage)).toThrow(TypeError);
  });

  it('caller bytes: Buffer pool views are read, never written, never aliased', () => {
    const pc = fromHex(whisper.plaintextContent!);
    const pool = Buffer.allocUnsafe(256).fill(0x5a);
    pool.set(pc, 17);
    const view = pool.subarray(17, 17 + pc.length);
    const before = toHex(pool);
    const content = PlaintextContent.deserialize(view);
    const dem = content.decryptionErrorMessage();
    expect(toHex(pool)).toBe(before);
    view.fill(0);
    expect(toHex(content.serialize())).toBe(whisper.plaintextContent);
    expect(toHex(dem.serialize())).toBe(whisper.dem);
    // and our outputs are fresh copies
    dem.serialize().fill(0);
    content.body.fill(0);
    expect(toHex(dem.serialize())).toBe(whisper.dem);
    expect(toHex(content.body)).toBe(whisper.plaintextContent!.slice(2));
  });

  it('caller bytes: forOriginal keeps no view of a Buffer original', () => {
    for (const c of cases.filter((x) => x.originalType !== 7)) {
      const original = fromHex(c.originalBytes);
      const pool = Buffer.alloc(original.length + 40);
      pool.set(original, 9);
      const view = pool.subarray(9, 9 + original.length);
      const dem = DecryptionErrorMessage.forOriginal(view, c.originalType, c.timestamp, c.deviceId);
      expect(toHex(view)).toBe(c.originalBytes);
      pool.fill(0);
      expect(toHex(dem.ratchetKey!.serialize())).toBe(ratchetKeyInVector(c.dem));
      expect(toHex(dem.serialize())).toBe(c.dem);
    }
  });

  it('toString / inspect are short labels', () => {
    const dem = DecryptionErrorMessage.deserialize(fromHex(whisper.dem));
    expect(inspect(dem)).toBe('[DecryptionErrorMessage 1:1 device 1 @1700000123456]');
    expect(String(PlaintextContent.from(dem))).toBe('[PlaintextContent 48 bytes]');
  });
});

describe('garbage in: DecodeError and nothing else', () => {
  const valid = cases.flatMap((c) => [
    fromHex(c.dem),
    fromHex(c.originalBytes),
    ...(c.plaintextContent ? [fromHex(c.plaintextContent)] : []),
  ]);

  const damaged = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .tuple(fc.constantFrom(...valid), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }))
      .map(([v, cut, at, x]) => {
        const b = v.slice(0, cut % (v.length + 1));
        if (b.length > 0) b[at % b.length] = (b[at % b.length] as number) ^ x;
        return b;
      }),
    fc
      .tuple(fc.constantFrom(...valid), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 12 }))
      .map(([v, at, ins]) => {
        const i = at % (v.length + 1);
        return new Uint8Array([...v.subarray(0, i), ...ins, ...v.subarray(i)]);
      }),
    fc.uint8Array({ maxLength: 60 }).map((b) => new Uint8Array([0xc0, ...b, 0x80])),
    fc.uint8Array({ maxLength: 60 }).map((b) => new Uint8Array([0x42, b.length, ...b, 0x80])),
  );

  const decoders: Record<string, (b: Uint8Array) => unknown> = {
    'DecryptionErrorMessage.deserialize': (b) => DecryptionErrorMessage.deserialize(b),
    'DecryptionErrorMessage.extractFromSerializedBody': (b) =>
      DecryptionErrorMessage.extractFromSerializedBody(b),
    'PlaintextContent.deserialize + decryptionErrorMessage': (b) =>
      PlaintextContent.deserialize(b).decryptionErrorMessage(),
    'forOriginal(whisper)': (b) => DecryptionErrorMessage.forOriginal(b, 2, 1, 1),
    'forOriginal(prekey)': (b) => DecryptionErrorMessage.forOriginal(b, 3, 1, 1),
  };

  for (const [name, decode] of Object.entries(decoders)) {
    it(name, () => {
      fc.assert(
        fc.property(damaged, (b) => {
          const copy = b.slice();
          try {
            decode(b);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
          }
          expect(b).toEqual(copy);
        }),
        { numRuns: 1500 },
      );
    });

    it(`${name}: wrong argument types are a TypeError`, () => {
      for (const x of [undefined, null, 'c0', 42, [0xc0, 0x80], {}, new ArrayBuffer(4)])
        expect(() => decode(x as unknown as Uint8Array)).toThrow(TypeError);
    });
  }

  it('what we accept we write back identically', () => {
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 })),
        fc.maxSafeNat(),
        fc.nat({ max: 0xffff_ffff }),
        (u, ts, dev) => {
          const hex = `${u ? `0a2105${toHex(u)}` : ''}10${varint(ts)}18${varint(dev)}`;
          const dem = DecryptionErrorMessage.deserialize(fromHex(hex));
          expect([dem.timestamp, dem.deviceId]).toEqual([ts, dev]);
          expect(toHex(dem.serialize())).toBe(hex);
          expect(E2eeError.is(dem)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Protobuf varint, written here independently of core's writer. */
function varint(n: number): string {
  let out = '';
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out += byte.toString(16).padStart(2, '0');
  } while (v > 0n);
  return out;
}
