// uint32 fields written as wider varints, decided as libsignal-client 0.103.0 decides them: prost reads
// a `uint32` field as a 64-bit varint and keeps its low 32 bits (`value as u32`), and a repeated
// scalar keeps its last occurrence. No libsignal encoder writes such a varint, but any protobuf
// encoder may, so the same bytes must give the same fields (or the same refusal) on both sides.
// Each case's expected value is also written down from prost's rules.
import { DecryptionErrorMessage, PreKeySignalMessage, SignalMessage } from '@e2ee-kit/ratchet';
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

describe('SignalMessage / PreKeySignalMessage: wide and padded varints decided as libsignal 0.103.0 decides them', () => {
  const ratchetKey = Array.from(L.PrivateKey.generate().getPublicKey().serialize());
  const mac = new Array<number>(8).fill(0xaa);
  /** SignalMessage v4 { 1: ratchet key, 2: counter, 3: previous counter, 4: ciphertext } ‖ MAC. */
  const signalMessage = (counter: number[], key = [0x10], keyLength = [33]) =>
    Uint8Array.from([
      0x44,
      0x0a,
      ...keyLength,
      ...ratchetKey,
      ...key,
      ...counter,
      0x18,
      0x00,
      0x22,
      0x10,
      ...new Array<number>(16).fill(1),
      ...mac,
    ]);
  const counterOf = (b: Uint8Array<ArrayBuffer>) => ({
    theirs: decide(() => L.SignalMessage.deserialize(b).counter()),
    ours: decide(() => SignalMessage.deserialize(b).counter),
  });

  it('a valid hand-made message is accepted by both', () => {
    expect(counterOf(signalMessage(varint(5n)))).toEqual({ theirs: 5, ours: 5 });
  });

  it.each(ENCODINGS)('counter %s', (_what, encoded, expected) => {
    const { theirs, ours } = counterOf(signalMessage(encoded));
    expect(theirs, 'libsignal').toBe(expected ?? 'refused');
    expect(ours, 'ours').toBe(expected ?? 'refused');
  });

  it.each([
    ['a field key padded to 10 bytes', () => signalMessage(varint(5n), varint(0x10n, 10)), 5],
    ['a field key padded to 11 bytes', () => signalMessage(varint(5n), varint(0x10n, 11)), undefined],
    ['a length padded to 10 bytes', () => signalMessage(varint(5n), [0x10], varint(33n, 10)), 5],
    [
      'a field key wider than 32 bits',
      () => signalMessage(varint(5n), varint((1n << 32n) + 0x10n)),
      undefined,
    ],
  ] as Array<[string, () => Uint8Array<ArrayBuffer>, number | undefined]>)('%s', (_what, make, expected) => {
    const { theirs, ours } = counterOf(make());
    expect(theirs, 'libsignal').toBe(expected ?? 'refused');
    expect(ours, 'ours').toBe(expected ?? 'refused');
  });
});

describe('PreKeySignalMessage ids written as wide varints', () => {
  const key = () => Array.from(L.PrivateKey.generate().getPublicKey().serialize());
  const inner = Array.from(
    Uint8Array.from([
      0x44,
      0x0a,
      33,
      ...key(),
      0x10,
      0x00,
      0x18,
      0x00,
      0x22,
      0x10,
      ...new Array<number>(16).fill(1),
      ...new Array<number>(8).fill(0xaa),
    ]),
  );
  const kyberCt = new Array<number>(1088).fill(3);
  /** PreKeySignalMessage v4 with the pre-key id, signed pre-key id and Kyber pre-key id encoded as given. */
  const prekeyMessage = (id: number[]) =>
    Uint8Array.from([
      0x44,
      0x28,
      0x05, // registration id 5
      0x08,
      ...id, // pre-key id
      0x30,
      ...id, // signed pre-key id
      0x12,
      33,
      ...key(), // base key
      0x1a,
      33,
      ...key(), // identity key
      0x22,
      ...varint(BigInt(inner.length)),
      ...inner,
      0x38,
      ...id, // Kyber pre-key id
      0x42,
      ...varint(BigInt(kyberCt.length)),
      ...kyberCt,
    ]);
  it.each(ENCODINGS)('ids %s', (_what, encoded, expected) => {
    const bytes = prekeyMessage(encoded);
    const theirs = decide(() => {
      const m = L.PreKeySignalMessage.deserialize(bytes);
      return [m.preKeyId(), m.signedPreKeyId()];
    });
    const ours = decide(() => {
      const m = PreKeySignalMessage.deserialize(bytes);
      return [m.preKeyId, m.signedPreKeyId];
    });
    expect(theirs, 'libsignal').toEqual(expected === undefined ? 'refused' : [expected, expected]);
    expect(ours, 'ours').toEqual(expected === undefined ? 'refused' : [expected, expected]);
  });
});

describe('the same decisions from Node Buffers (pooled, at an offset) and views into a larger buffer', () => {
  it('a wide counter, device id and pre-key id read from pooled Buffers; the caller bytes are unchanged', () => {
    const key = Array.from(L.PrivateKey.generate().getPublicKey().serialize());
    const wide = varint((1n << 32n) + 7n);
    const whisper = [
      0x44,
      0x0a,
      33,
      ...key,
      0x10,
      ...wide,
      0x18,
      0x00,
      0x22,
      0x10,
      ...new Array<number>(16).fill(1),
      ...new Array<number>(8).fill(0xaa),
    ];
    const dem = [0x10, 0x05, 0x18, ...wide];
    for (const bytes of [whisper, dem]) {
      // Buffer.from of a small array is a slice of Node's shared pool; the view sits at an odd offset.
      const pooled = Buffer.from([0xee, ...bytes, 0xee]).subarray(1, bytes.length + 1);
      expect(pooled.byteOffset).toBeGreaterThan(0);
      const big = new Uint8Array(bytes.length + 9);
      big.set(bytes, 5);
      const view = big.subarray(5, 5 + bytes.length);
      for (const input of [pooled, view]) {
        const before = Uint8Array.from(input);
        if (bytes === whisper) expect(SignalMessage.deserialize(input).counter).toBe(7);
        else expect(DecryptionErrorMessage.deserialize(input).deviceId).toBe(7);
        expect(Uint8Array.from(input)).toEqual(before);
      }
    }
  });
});
