// ScannableFingerprint decoding and compare() on edge-case bytes. Expected outcomes follow
// libsignal's compare (read in rust/protocol/src/fingerprint.rs); the interop test checks the same
// kinds of payloads against libsignal-client live.
import { concatBytes, DecodeError, fromHex, ProtoWriter, utf8 } from '@e2ee-kit/core';
import { computeSafetyNumber, ScannableFingerprint } from '@e2ee-kit/safety-number';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprintVectors } from './vectors.js';

const pub = fingerprintVectors.publishedVectors;
const alice = { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) };
const bob = { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) };
const bobV2 = computeSafetyNumber({ local: bob, remote: alice, version: 2 });
const aliceScan = fromHex(pub.v2.aliceScannableHex);
const aliceLocal = aliceScan.subarray(6, 38);
const aliceRemote = aliceScan.subarray(42, 74);

const logical = (content?: Uint8Array) =>
  content === undefined ? new Uint8Array(0) : new ProtoWriter().bytes(1, content).finish();

describe('ScannableFingerprint.deserialize', () => {
  it('reads what libsignal wrote', () => {
    const s = ScannableFingerprint.deserialize(aliceScan);
    expect(s.version).toBe(2);
    expect(s.localFingerprint).toEqual(aliceLocal);
    expect(s.remoteFingerprint).toEqual(aliceRemote);
    expect(s.serialize()).toEqual(aliceScan);
  });

  it('requires version and both contents, as libsignal deserialize does', () => {
    const noVersion = aliceScan.subarray(2);
    expect(() => ScannableFingerprint.deserialize(noVersion)).toThrow(DecodeError);
    const noRemote = new ProtoWriter().uint32(1, 2).bytes(2, logical(aliceLocal)).finish();
    expect(() => ScannableFingerprint.deserialize(noRemote)).toThrow(DecodeError);
    const emptyLocal = new ProtoWriter()
      .uint32(1, 2)
      .bytes(2, logical())
      .bytes(3, logical(aliceRemote))
      .finish();
    expect(() => ScannableFingerprint.deserialize(emptyLocal)).toThrow(DecodeError);
  });

  it('any bytes: a ScannableFingerprint or a DecodeError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          ScannableFingerprint.deserialize(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
        const r = bobV2.compare(bytes);
        expect(['match', 'mismatch', 'version-mismatch', 'malformed']).toContain(r.status);
      }),
      { numRuns: 500 },
    );
  });
});

describe('compare() on unusual but valid protobuf', () => {
  it('unknown fields are skipped', () => {
    const extra = concatBytes(aliceScan, new ProtoWriter().bytes(9, utf8('x')).uint32(10, 7).finish());
    expect(bobV2.compare(extra)).toEqual({ status: 'match' });
  });

  it('fields in another order still match', () => {
    const reordered = new ProtoWriter()
      .bytes(3, logical(aliceRemote))
      .bytes(2, logical(aliceLocal))
      .uint32(1, 2)
      .finish();
    expect(bobV2.compare(reordered)).toEqual({ status: 'match' });
  });

  it('a repeated message field is merged; the last content wins', () => {
    const twice = new ProtoWriter()
      .uint32(1, 2)
      .bytes(2, logical(new Uint8Array(32)))
      .bytes(2, logical(aliceLocal))
      .bytes(3, logical(aliceRemote))
      .bytes(3, logical()) // an empty second occurrence keeps the earlier content
      .finish();
    expect(bobV2.compare(twice)).toEqual({ status: 'match' });
  });

  it('content of another length is a mismatch, not an error', () => {
    const short = new ProtoWriter()
      .uint32(1, 2)
      .bytes(2, logical(aliceLocal.subarray(0, 31)))
      .bytes(3, logical(aliceRemote))
      .finish();
    expect(bobV2.compare(short)).toEqual({ status: 'mismatch' });
  });

  it('version is checked before the contents; missing contents are malformed', () => {
    const v1Empty = new ProtoWriter().uint32(1, 1).finish();
    expect(bobV2.compare(v1Empty)).toEqual({ status: 'version-mismatch', ours: 2, theirs: 1 });
    expect(bobV2.compare(new Uint8Array(0))).toEqual({ status: 'version-mismatch', ours: 2, theirs: 0 });
    const v2Empty = new ProtoWriter().uint32(1, 2).finish();
    expect(bobV2.compare(v2Empty).status).toBe('malformed');
    const v2NoRemoteContent = new ProtoWriter()
      .uint32(1, 2)
      .bytes(2, logical(aliceLocal))
      .bytes(3, logical())
      .finish();
    expect(bobV2.compare(v2NoRemoteContent).status).toBe('malformed');
  });

  it('wrong wire type, truncation and stray group ends are malformed; whole unknown groups are skipped', () => {
    const wrongType = concatBytes(Uint8Array.of(0x0a, 0x01, 0x02), aliceScan.subarray(2)); // field 1 as bytes
    expect(bobV2.compare(wrongType).status).toBe('malformed');
    expect(bobV2.compare(aliceScan.subarray(0, 73)).status).toBe('malformed');
    expect(bobV2.compare(Uint8Array.of(0x08)).status).toBe('malformed');
    // Field 9 as a group (start 0x4b, end 0x4c): prost skips it; libsignal agrees (interop test).
    expect(bobV2.compare(concatBytes(aliceScan, Uint8Array.of(0x4b, 0x50, 0x01, 0x4c)))).toEqual({
      status: 'match',
    });
    expect(bobV2.compare(concatBytes(aliceScan, Uint8Array.of(0x4c))).status).toBe('malformed');
    expect(bobV2.compare(concatBytes(aliceScan, Uint8Array.of(0x4b, 0x54))).status).toBe('malformed');
    const deep = (n: number) =>
      concatBytes(aliceScan, new Uint8Array(n).fill(0x4b), new Uint8Array(n).fill(0x4c));
    expect(bobV2.compare(deep(100))).toEqual({ status: 'match' });
    expect(bobV2.compare(deep(101)).status).toBe('malformed');
    expect(bobV2.compare(deep(100_000)).status).toBe('malformed'); // no stack overflow
  });
});

describe('objects from another copy of the package (dual ESM/CJS load)', () => {
  it('compare() accepts anything whose serialize() gives the payload bytes', () => {
    const foreign = { serialize: () => aliceScan.slice() } as unknown as ScannableFingerprint;
    expect(bobV2.compare(foreign)).toEqual({ status: 'match' });
    expect(() => bobV2.compare({ serialize: () => 'x' } as unknown as ScannableFingerprint)).toThrow(
      TypeError,
    );
  });
});

describe('ScannableFingerprint.of', () => {
  it('refuses a version outside uint32 and contents that are not 32 bytes', () => {
    expect(() => ScannableFingerprint.of(-1, aliceLocal, aliceRemote)).toThrow(RangeError);
    expect(() => ScannableFingerprint.of(2 ** 32, aliceLocal, aliceRemote)).toThrow(RangeError);
    expect(() => ScannableFingerprint.of(2, aliceLocal.subarray(1), aliceRemote)).toThrow(RangeError);
    expect(ScannableFingerprint.of(2 ** 32 - 1, aliceLocal, aliceRemote).version).toBe(2 ** 32 - 1);
  });

  it('copies its inputs and hands out copies', () => {
    const local = aliceLocal.slice();
    const s = ScannableFingerprint.of(2, local, aliceRemote);
    local.fill(0);
    s.localFingerprint.fill(0);
    expect(s.localFingerprint).toEqual(aliceLocal);
  });
});
