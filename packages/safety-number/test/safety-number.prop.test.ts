// fast-check properties of the numeric and scannable forms (random keys and identifiers), and the
// opt-in fast paths against the pure default path.
import { fromHex, nobleProvider, platformProvider, toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  computeSafetyNumber,
  formatSafetyNumber,
  parseSafetyNumber,
  type SafetyNumberParty,
} from '@e2ee-kit/safety-number';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';

const key33 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => {
  const k = new Uint8Array(33);
  k[0] = 0x05;
  k.set(u, 1);
  return k;
});
const party: fc.Arbitrary<SafetyNumberParty> = fc.record({
  // size 'max': by default fast-check keeps arrays to about 10 elements whatever maxLength says.
  identifier: fc.uint8Array({ maxLength: 40, size: 'max' }),
  identityKey: key33,
});
// Few iterations keep the properties fast; the vectors cover 1024 and 5200.
const iterations = fc.integer({ min: 2, max: 64 });
const version = fc.constantFrom(1, 2);

describe('properties', () => {
  it('always 60 digits, each 5-digit chunk below 100000, and the same on both sides', () => {
    fc.assert(
      fc.property(party, party, iterations, version, (a, b, it, v) => {
        const ab = computeSafetyNumber({ local: a, remote: b, iterations: it, version: v });
        const ba = computeSafetyNumber({ local: b, remote: a, iterations: it, version: v });
        expect(ab.digits).toMatch(/^[0-9]{60}$/);
        for (const chunk of ab.groups()) expect(Number(chunk)).toBeLessThan(100_000);
        expect(ab.digits).toBe(ba.digits);
        expect(ab.localDigits).toBe(ba.remoteDigits);
        const [smaller, larger] = [ab.localDigits, ab.remoteDigits].sort();
        expect(ab.digits).toBe(`${smaller}${larger}`);
        // Scannable: the two sides match each other; a payload against itself does not.
        expect(ab.compare(ba.scannable.serialize())).toEqual({ status: 'match' });
        expect(ba.compare(ab.scannable)).toEqual({ status: 'match' });
        if (toHex(ab.scannable.localFingerprint) !== toHex(ab.scannable.remoteFingerprint)) {
          expect(ab.compare(ab.scannable)).toEqual({ status: 'mismatch' });
        }
        // Typed digits round-trip through format and parse.
        expect(parseSafetyNumber(ab.format({ groupsPerLine: 4 }))).toBe(ab.digits);
        expect(ab.compareDigits(formatSafetyNumber(ba.digits, { separator: '-' }))).toEqual({
          status: 'match',
        });
      }),
      { numRuns: 60 },
    );
  });

  it('the version changes the scannable bytes but never the digits', () => {
    fc.assert(
      fc.property(party, party, iterations, (a, b, it) => {
        const v1 = computeSafetyNumber({ local: a, remote: b, iterations: it, version: 1 });
        const v2 = computeSafetyNumber({ local: a, remote: b, iterations: it, version: 2 });
        expect(v1.digits).toBe(v2.digits);
        expect(v1.scannable.localFingerprint).toEqual(v2.scannable.localFingerprint);
        expect(v1.compare(v2.scannable)).toEqual({ status: 'version-mismatch', ours: 1, theirs: 2 });
      }),
      { numRuns: 30 },
    );
  });

  it('another key or identifier on either side changes the number and fails compare', () => {
    fc.assert(
      fc.property(party, party, key33, iterations, (a, b, mitmKey, it) => {
        fc.pre(toHex(mitmKey) !== toHex(b.identityKey as Uint8Array));
        const honest = computeSafetyNumber({ local: b, remote: a, iterations: it });
        const fooled = computeSafetyNumber({
          local: a,
          remote: { identifier: b.identifier, identityKey: mitmKey },
          iterations: it,
        });
        expect(fooled.digits).not.toBe(honest.digits);
        expect(fooled.compare(honest.scannable)).toEqual({ status: 'mismatch' });
        expect(honest.compare(fooled.scannable)).toEqual({ status: 'mismatch' });
      }),
      { numRuns: 30 },
    );
  });

  it('every provider gives the same bytes on random inputs', () => {
    fc.assert(
      fc.property(party, party, iterations, (a, b, it) => {
        const ref = computeSafetyNumber({ local: a, remote: b, iterations: it, provider: nobleProvider });
        for (const { provider } of allProviders) {
          const got = computeSafetyNumber({ local: a, remote: b, iterations: it, provider });
          expect(got.digits).toBe(ref.digits);
          expect(got.scannable.serialize()).toEqual(ref.scannable.serialize());
        }
      }),
      { numRuns: 20 },
    );
  });

  it('a core PublicKey and its 33 bytes give the same number', async () => {
    const { PublicKey } = await import('@e2ee-kit/core');
    const k = fromHex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868');
    const other = { identifier: new Uint8Array(16), identityKey: new Uint8Array(33).fill(5) };
    const a = computeSafetyNumber({
      local: { identifier: new Uint8Array(3), identityKey: k },
      remote: other,
    });
    const b = computeSafetyNumber({
      local: { identifier: new Uint8Array(3), identityKey: PublicKey.deserialize(k) },
      remote: other,
    });
    expect(b.digits).toBe(a.digits);
  });
});

describe('the opt-in fast paths (./node, ./wasm) against the pure default path', () => {
  // Identifiers up to 300 bytes: the first SHA-512 input (68 + identifier bytes) then spans one to
  // four blocks, where a hash that mishandles a block boundary or a long input would show.
  const longParty: fc.Arbitrary<SafetyNumberParty> = fc.record({
    identifier: fc.uint8Array({ maxLength: 300, size: 'max' }),
    identityKey: key33,
  });

  it('same digits, same payload, same compare() decisions on random inputs', async () => {
    const fast = [
      { label: 'node', provider: nodeProvider },
      { label: 'wasm over noble', provider: await withWasmSha512(nobleProvider) },
      { label: 'wasm over platform', provider: await withWasmSha512(platformProvider) },
    ];
    fc.assert(
      fc.property(
        longParty,
        longParty,
        iterations,
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ maxLength: 80 }),
        (a, b, it, v, junk) => {
          const pure = computeSafetyNumber({ local: a, remote: b, iterations: it, version: v });
          const other = computeSafetyNumber({ local: b, remote: a, iterations: it, version: v });
          // Their payload, one with a byte of it changed, and random bytes.
          const flipped = other.scannable.serialize();
          flipped[junk.length % flipped.length]! ^= 1 + ((junk[0] ?? 0) % 255);
          const scanned = [other.scannable.serialize(), flipped, junk];
          for (const { label, provider } of fast) {
            const got = computeSafetyNumber({ local: a, remote: b, iterations: it, version: v, provider });
            expect(got.digits, label).toBe(pure.digits);
            expect(toHex(got.scannable.serialize()), label).toBe(toHex(pure.scannable.serialize()));
            for (const bytes of scanned) expect(got.compare(bytes), label).toEqual(pure.compare(bytes));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
