// The path taken when no provider is passed (the default provider's SHA-512 alone, so a digits-only
// bundle stays small) against libsignal's vectors, and the key checks it does without PublicKey.
import {
  DecodeError,
  defaultProvider,
  defaultSha512Sync,
  fromHex,
  PublicKey,
  toHex,
  utf8,
} from '@e2ee-kit/core';
import { computeSafetyNumber } from '@e2ee-kit/safety-number';
import { describe, expect, it } from 'vitest';
import { fingerprintVectors } from './vectors.js';

const pub = fingerprintVectors.publishedVectors;
const alice = { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) };
const bob = { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) };

describe('safety number without a provider', () => {
  it('gives libsignal digits and scannable bytes (published and generated vectors)', () => {
    const a = computeSafetyNumber({ local: alice, remote: bob, version: 2, iterations: pub.iterations });
    expect(a.digits).toBe(pub.displayable);
    expect(toHex(a.scannable.serialize())).toBe(pub.v2.aliceScannableHex);
    for (const v of fingerprintVectors.vectors) {
      const ours = computeSafetyNumber({
        local: { identifier: fromHex(v.localIdentifierHex), identityKey: fromHex(v.localIdentityKeyHex) },
        remote: { identifier: fromHex(v.remoteIdentifierHex), identityKey: fromHex(v.remoteIdentityKeyHex) },
        version: v.version,
        iterations: v.iterations,
      });
      expect(ours.digits).toBe(v.displayable);
      expect(toHex(ours.scannable.serialize())).toBe(v.scannableLocalHex);
    }
  });

  it('defaultSha512Sync is the default provider’s sha512Sync (FIPS 180-2 "abc")', () => {
    const abc =
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';
    expect(toHex(defaultSha512Sync(utf8('a'), utf8('bc')))).toBe(abc);
    expect(toHex(defaultProvider.sha512Sync(utf8('abc')))).toBe(abc);
    expect(() => defaultSha512Sync('abc' as never)).toThrow(TypeError);
  });

  it('checks keys as PublicKey.deserialize does, and still refuses a non-provider', () => {
    const key = PublicKey.deserialize(alice.identityKey);
    const viaObject = computeSafetyNumber({
      local: { ...alice, identityKey: key },
      remote: bob,
      iterations: 2,
    });
    const viaBytes = computeSafetyNumber({ local: alice, remote: bob, iterations: 2 });
    expect(viaObject.digits).toBe(viaBytes.digits);
    const bad = [alice.identityKey.subarray(0, 32), Uint8Array.of(0x06, ...alice.identityKey.subarray(1))];
    for (const identityKey of bad) {
      let theirs: unknown;
      try {
        PublicKey.deserialize(identityKey);
      } catch (e) {
        theirs = e;
      }
      expect(theirs).toBeInstanceOf(DecodeError);
      expect(() => computeSafetyNumber({ local: { ...alice, identityKey }, remote: bob })).toThrow(
        expect.objectContaining({
          code: (theirs as DecodeError).code,
          message: (theirs as DecodeError).message,
        }),
      );
    }
    expect(() => computeSafetyNumber({ local: alice, remote: bob, provider: {} as never })).toThrow(
      TypeError,
    );
  });
});

describe('the identity key hashed is the one checked, copied', () => {
  it('a Uint8Array whose class overrides slice() is hashed as its own bytes', () => {
    // An app's (or an attacker-supplied) subclass: any method of the caller's array may lie.
    class Lying extends Uint8Array {
      override slice(): Uint8Array<ArrayBuffer> {
        return Uint8Array.of(0x05, ...new Array(32).fill(0x11));
      }
    }
    const lying = new Lying(alice.identityKey);
    const expected = computeSafetyNumber({ local: alice, remote: bob, iterations: 2 });
    const got = computeSafetyNumber({ local: { ...alice, identityKey: lying }, remote: bob, iterations: 2 });
    expect(got.digits).toBe(expected.digits);
  });

  it('a pooled Buffer reaches the provider as a copy, not a view of the pool', () => {
    const pooled = Buffer.from(alice.identityKey); // small: a slice of Node's shared pool
    expect(pooled.buffer.byteLength).toBe(Buffer.poolSize);
    const seen: Uint8Array[] = [];
    const provider = {
      sha512Sync: defaultSha512Sync,
      sha512IterateSync(first: Uint8Array, suffix: Uint8Array, n: number) {
        seen.push(suffix);
        return defaultProvider.sha512IterateSync!(first, suffix, n);
      },
    };
    const sn = computeSafetyNumber({
      local: { ...alice, identityKey: pooled },
      remote: bob,
      iterations: pub.iterations,
      provider: provider as never,
    });
    expect(sn.digits).toBe(pub.displayable);
    expect(seen.length).toBe(2);
    for (const s of seen) expect(s.buffer).not.toBe(pooled.buffer);
  });
});

describe('a provider without sha512IterateSync', () => {
  it('a digest of another length than 64 bytes in any round is a TypeError, not silently other digits', () => {
    for (const badRound of [0, 1, 5]) {
      for (const length of [63, 65, 97]) {
        let calls = 0;
        const provider = {
          sha512Sync(...parts: Uint8Array[]) {
            const h = defaultSha512Sync(...parts);
            if (calls++ !== badRound) return h;
            const out = new Uint8Array(length);
            out.set(h.subarray(0, Math.min(64, length)));
            return out;
          },
        };
        expect(
          () =>
            computeSafetyNumber({ local: alice, remote: bob, iterations: 8, provider: provider as never }),
          `round ${badRound}, ${length} bytes`,
        ).toThrow(new TypeError("the provider's SHA-512 must return 64 bytes"));
      }
    }
  });
});
